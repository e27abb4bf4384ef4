"""Time the contract suite's hypothesis profiles against the embedded mock.

    python benchmarks/profiles.py [--profiles gate nightly]

For each profile: wall time, requests sent, requests per second, and the pytest outcome.
"""

from __future__ import annotations

import argparse
import sys

from meeting_room_contract.selfcheck import MatrixEntry, run_entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="*", default=["gate", "nightly"])
    args = parser.parse_args(argv)
    print(f"{'profile':10} {'wall s':>8} {'requests':>9} {'req/s':>8}  outcome")
    ok = True
    for profile in args.profiles:
        result = run_entry(MatrixEntry("baseline", "correct mock"), profile=profile, timeout=1800)
        rate = result.requests / result.seconds if result.seconds else 0.0
        outcome = "passed" if result.exit_code == 0 else f"FAILED (exit {result.exit_code}) {result.failed_tests}"
        ok &= result.exit_code == 0
        print(f"{profile:10} {result.seconds:8.1f} {result.requests:9d} {rate:8.1f}  {outcome}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
