"""Run the mock standalone: `python -m meeting_room_contract.mock --port 8080 [--fault NAME] [--variant NAME] [--latency-ms N]`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import yaml

from . import schema
from .behaviours import FAULTS, SPEC_FAULTS, VARIANTS
from .server import MeetingRoomMock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meeting_room_contract.mock", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; default 8080)")
    parser.add_argument("--fault", action="append", default=[], choices=sorted({**FAULTS, **SPEC_FAULTS}), metavar="NAME",
                        help="inject a contract violation (repeatable); see --list")
    parser.add_argument("--variant", action="append", default=[], choices=sorted(VARIANTS), metavar="NAME",
                        help="switch to another allowed behaviour (repeatable); see --list")
    parser.add_argument("--spec", default=None, help="the OpenAPI spec the mock implements (env CONFERENCE_SPEC; "
                                                     "default openapi/conference-v2-meeting-rooms.yaml)")
    parser.add_argument("--latency-ms", type=float, default=0, metavar="N",
                        help="delay every answer by N milliseconds, as a remote deployment would (default 0)")
    parser.add_argument("--list", action="store_true", help="list faults and variants and exit")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when standard input closes (the process that started the mock ended, in any way)")
    args = parser.parse_args(argv)
    if args.list:
        for title, table in (("faults", FAULTS), ("faults for an evolved spec (--spec)", SPEC_FAULTS), ("variants", VARIANTS)):
            print(f"{title}:")
            for behaviour in table.values():
                print(f"  {behaviour.name:38} [{behaviour.rule}] {behaviour.description}")
        return 0
    if args.latency_ms < 0:
        parser.error("--latency-ms: must be 0 or more")
    try:
        path = schema.spec_file(args.spec)
        api_schema = schema.load(path)
    except (ValueError, OSError, KeyError, TypeError, yaml.YAMLError) as error:
        parser.error(f"--spec: {str(error).splitlines()[0] if str(error) else type(error).__name__}")  # one line, exit 2
    mock = MeetingRoomMock(tuple(args.fault), tuple(args.variant), host=args.host, port=args.port, verbose=args.verbose,
                           spec_path=path, latency_ms=args.latency_ms)
    mock.start()
    print(f"meeting-room mock listening on {mock.base_url}", flush=True)
    version = api_schema.document.get("info", {}).get("version", "?")
    print(f"  spec: {path} (API version {version}); latency {args.latency_ms:g} ms per answer", flush=True)
    for account in mock.accounts:
        groups = ", ".join(group["did_group_sid"] for group in account.did_groups)
        print(f"  account {account.account_sid} login {account.login}; DID groups {groups}", flush=True)
    print("  (passwords: see README; faults: %s; variants: %s)" % (args.fault or "none", args.variant or "none"), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.exit_with_parent:
        def watch_parent() -> None:
            sys.stdin.read()  # returns at end of file: whoever holds the other end is gone
            stop.set()
        threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    mock.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
