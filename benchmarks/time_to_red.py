"""Time to red: the gate profile against every mock fault, as a release pipeline would run it.

    python benchmarks/time_to_red.py [--workers 2] [--only NAME ...]

One row per fault: seconds until the first test failed, the rule that failure named (and
whether it is the fault's declared rule), and seconds until the whole failing run ended. The
last line is exactly `time to red: median M s, max X s over N faults` (time to the first
failure); the exit status is 1 if a run took more than 60 s to end or its first failure named
another rule than the fault's.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from meeting_room_contract.mock import FAULTS
from meeting_room_contract.selfcheck import matrix, run_matrix

LIMIT_SECONDS = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1, help="runs in parallel (default 1: timings as on an idle machine)")
    parser.add_argument("--only", nargs="*", help="only these faults")
    args = parser.parse_args(argv)
    faults = [name for name in FAULTS if not args.only or name in args.only]
    results = run_matrix(matrix(faults=faults, variants=[], baseline=False), workers=args.workers, profile="gate",
                         stop_at_first_failure=False)
    print(f"{'fault':42} {'first red s':>11} {'run ends s':>10}  first failure's rule")
    reds, bad = [], 0
    for result in results:
        first = result.call_failures[0] if result.call_failures else None
        red = float(first["at"]) if first else float("nan")
        rules = ", ".join(first["rules"]) if first else "(no failure)"
        own = bool(first) and result.entry.declared_rule in first["rules"]
        bad += (not own) or result.seconds > LIMIT_SECONDS
        reds.append(red)
        print(f"{result.entry.name:42} {red:11.1f} {result.seconds:10.1f}  {rules}{'' if own else '  <- not ' + str(result.entry.declared_rule)}",
              flush=True)
    finite = [red for red in reds if red == red]
    print(f"time to red: median {statistics.median(finite):.1f} s, max {max(finite):.1f} s over {len(finite)} faults")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
