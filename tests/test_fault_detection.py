"""The contract suite catches every injected fault by its own rule and passes every allowed variant.

Each case is a real run of `pytest contracts` (gate profile) over HTTP against the embedded
mock started with one behaviour: a fault must fail a test with a violation of the rule the
fault declares (not any failure, not a fixture error); variants and the correct mock must pass.
"""

from __future__ import annotations

import pytest

from meeting_room_contract.selfcheck import matrix, run_entry, undeclared_rules

ENTRIES = matrix()


def test_every_fault_declares_a_registered_rule():
    assert undeclared_rules() == []


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{entry.kind}:{entry.name}" for entry in ENTRIES])
def test_contract_suite_verdict(entry):
    result = run_entry(entry)
    if entry.must_fail:
        assert result.caught_by_rule, (
            f"fault {entry.name} was not caught by its rule {entry.declared_rule} (exit {result.exit_code}, "
            f"rules that failed: {result.rules_failed}):\n{result.output_tail}")
    else:
        assert result.exit_code == 0, (f"{entry.kind} {entry.name}: false alarm in {result.failed_tests} "
                                       f"(exit {result.exit_code}):\n{result.output_tail}")
