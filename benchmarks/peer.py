"""The gate and the schemathesis CLI against the same standalone mock, one after the other, per latency.

    python benchmarks/peer.py [--latency-ms 0 20 80] [--st-args "..."]

The peer is schemathesis's own CLI (`st run` on the project's spec, with the mock's first login and its
defaults, or the arguments given) against a fresh standalone mock with `--latency-ms N`; the suite is
`pytest contracts --base-url ...` with its default concurrency (benchmarks/latency.py's run). One line
per latency: both wall times and the ratio suite / CLI; the last line `ratios: ...`. Wall times on a
shared machine move with its load: run both back to back, as here, and read the ratios.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import run_gate  # noqa: E402  (the suite's side: one gate against a fresh mock)

from meeting_room_contract.selfcheck import PROJECT_ROOT  # noqa: E402

SPEC = PROJECT_ROOT / "openapi" / "conference-v2-meeting-rooms.yaml"


def run_cli(latency_ms: float, st_args: list[str]) -> tuple[float, int]:
    """(wall seconds, exit code) of `st run` against a fresh standalone mock."""
    mock = subprocess.Popen([sys.executable, "-m", "meeting_room_contract.mock", "--port", "0",
                             "--latency-ms", f"{latency_ms:g}"], stdout=subprocess.PIPE, text=True)
    try:
        base_url = mock.stdout.readline().split("listening on ", 1)[1].strip()
        command = [str(Path(sys.executable).with_name("st")), "run", str(SPEC), "--url", base_url,
                   "--auth", "conference_user_123:qwerty123", *st_args]
        started = time.monotonic()
        completed = subprocess.run(command, capture_output=True, text=True)
        return time.monotonic() - started, completed.returncode
    finally:
        mock.terminate()
        mock.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0, 80.0])
    parser.add_argument("--st-args", default="", help="more arguments for `st run` (one string)")
    args = parser.parse_args(argv)
    ratios = []
    print(f"{'latency':>8} {'suite s':>8} {'cli s':>7} {'ratio':>6}  suite exit / cli exit")
    for latency in args.latency_ms:
        suite_s, code, _, _, _ = run_gate(latency, [], "gate")
        cli_s, cli_code = run_cli(latency, shlex.split(args.st_args))
        ratio = suite_s / cli_s if cli_s else float("nan")
        ratios.append(f"{ratio:.2f} at {latency:g} ms")
        print(f"{latency:6g}ms {suite_s:8.1f} {cli_s:7.1f} {ratio:6.2f}  {code} / {cli_code}", flush=True)
    print("ratios (suite / schemathesis CLI): " + ", ".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
