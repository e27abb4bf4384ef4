"""The contract suite catches every injected fault and passes every allowed variant.

Each case is a real run of `pytest contracts` (gate profile) over HTTP against the embedded
mock started with one behaviour: faults must fail it, variants and the correct mock must pass.
"""

from __future__ import annotations

import pytest

from meeting_room_contract.selfcheck import matrix, run_entry

ENTRIES = matrix()


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{entry.kind}:{entry.name}" for entry in ENTRIES])
def test_contract_suite_verdict(entry):
    result = run_entry(entry)
    if entry.must_fail:
        assert result.suite_failed, f"fault {entry.name} was NOT caught (exit {result.exit_code}):\n{result.output_tail}"
    else:
        assert result.exit_code == 0, (f"{entry.kind} {entry.name}: false alarm in {result.failed_tests} "
                                       f"(exit {result.exit_code}):\n{result.output_tail}")
