"""Fault-detection benchmark: run the contract suite against every mock fault and variant.

    python benchmarks/fault_detection.py [--all-failures] [--workers 2] [--only NAME ...] [--replay]

Prints one row per entry (verdict, seconds, requests sent, the rule the fault declares and
the rules the failing tests named) and, as the last line, `caught K/N faults, A/V false alarms
in T s`. A fault counts as caught only when a test failed with a violation of its declared
rule. Exit status 1 if a fault was missed (or caught only under another rule) or an allowed
variant raised a false alarm. With --replay, each fault's first recorded failure is replayed
(`python -m meeting_room_contract.replay`) against the standalone mock with the fault and against
the correct mock: the row adds `replay F/C rooms f/c` (exits; rooms left), and a replay that is not
1 against the fault and 0 against the correct mock (4: cannot be replayed) makes the exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import time

from meeting_room_contract.mock import FAULTS, VARIANTS
from meeting_room_contract.selfcheck import matrix, run_matrix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--all-failures", action="store_true",
                        help="run each faulty suite to the end to list every test that catches it (slower)")
    parser.add_argument("--workers", type=int, default=2, help="suite runs in parallel (default 2)")
    parser.add_argument("--profile", default="gate", help="hypothesis profile of the suite (default gate)")
    parser.add_argument("--only", nargs="*", help="only these faults/variants")
    parser.add_argument("--replay", action="store_true", help="replay each fault's first failure against both mocks")
    args = parser.parse_args(argv)
    only = set(args.only or [])
    entries = matrix(faults=[n for n in FAULTS if not only or n in only],
                     variants=[n for n in VARIANTS if not only or n in only], baseline=not only)
    started = time.monotonic()
    results = run_matrix(entries, workers=args.workers, profile=args.profile,
                         stop_at_first_failure=not args.all_failures, replay=args.replay)
    total = time.monotonic() - started
    print(f"{'verdict':12} {'kind':8} {'name':40} {'seconds':>8} {'requests':>9}  {'declared rule':34} rules failed (tests)")
    for result in results:
        detail = ", ".join(result.rules_failed) or "-"
        if not result.entry.must_fail and result.failed_tests:
            detail = ", ".join(result.failed_tests)
        if args.replay and result.entry.must_fail:
            fault, correct = result.replays.get("fault", ("-", "", "-")), result.replays.get("correct", ("-", "", "-"))
            detail += f"  replay {fault[0]}/{correct[0]} rooms {fault[2]}/{correct[2]}"
        print(f"{result.verdict:12} {result.entry.kind:8} {result.entry.name:40} {result.seconds:8.1f} "
              f"{result.requests:9d}  {result.entry.declared_rule or '-':34} {detail}", flush=True)
    faults = [r for r in results if r.entry.must_fail]
    passing = [r for r in results if not r.entry.must_fail]
    caught = sum(r.as_expected for r in faults)
    false_alarms = sum(not r.as_expected for r in passing)
    replayed = sum(r.replays.get("fault", (None,))[0] == 1 and r.replays.get("correct", (None,))[0] == 0 for r in faults)
    print(f"caught {caught}/{len(faults)} faults, {false_alarms}/{len(passing)} false alarms in {total:.0f} s"
          + (f"; first failure replayed as expected for {replayed}/{len(faults)}" if args.replay else ""))
    return 0 if caught == len(faults) and false_alarms == 0 and (not args.replay or replayed == len(faults)) else 1


if __name__ == "__main__":
    sys.exit(main())
