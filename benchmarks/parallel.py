"""Wall time of the contract suite, serial and with `-n 2`, against the standalone mock (`--variant slow`).

    python benchmarks/parallel.py [--workers 2] [--variant slow]

Each run gets a fresh standalone mock on a free loopback port, reached with `--base-url` and the
mock's logins as a real deployment would be (preflight, leftovers, cleanup included).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from meeting_room_contract.selfcheck import PROJECT_ROOT

LOGINS = ["--username", "conference_user_123", "--password", "qwerty123",
          "--second-username", "conference_user_456", "--second-password", "qwerty456"]


def run_suite(extra: list[str], variant: str) -> tuple[float, int, str]:
    """(wall seconds, exit code, last line) of one `pytest contracts` run against a fresh mock."""
    mock = subprocess.Popen([sys.executable, "-m", "meeting_room_contract.mock", "--port", "0", "--variant", variant],
                            stdout=subprocess.PIPE, text=True)
    try:
        base_url = mock.stdout.readline().split("listening on ", 1)[1].strip()
        with tempfile.TemporaryDirectory(prefix="contract-parallel-") as report_dir:
            command = [sys.executable, "-m", "pytest", "contracts", "-q", "-p", "no:cacheprovider",
                       "--base-url", base_url, *LOGINS, "--report-dir", report_dir, *extra]
            started = time.monotonic()
            completed = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
            seconds = time.monotonic() - started
        lines = (completed.stdout + completed.stderr).strip().splitlines()
        return seconds, completed.returncode, lines[-1] if lines else ""
    finally:
        mock.terminate()
        mock.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variant", default="slow", help="mock variant (see python -m meeting_room_contract.mock --list)")
    args = parser.parse_args(argv)
    results = {}
    for label, extra in (("serial", []), (f"-n {args.workers}", ["-n", str(args.workers)])):
        seconds, code, last = run_suite(extra, args.variant)
        results[label] = seconds
        print(f"{label:8} {seconds:7.1f} s  exit {code}  {last}", flush=True)
        if code != 0:
            return 1
    serial, parallel = results.values()
    print(f"speed-up: {serial / parallel:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
