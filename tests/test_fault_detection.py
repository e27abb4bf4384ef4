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
    result = run_entry(entry, replay=True)
    if entry.must_fail:
        assert result.caught_by_rule, (
            f"fault {entry.name} was not caught by its rule {entry.declared_rule} (exit {result.exit_code}, "
            f"rules that failed: {result.rules_failed}):\n{result.output_tail}")
        assert_first_failure_replays(result)
    else:
        assert result.exit_code == 0, (f"{entry.kind} {entry.name}: false alarm in {result.failed_tests} "
                                       f"(exit {result.exit_code}):\n{result.output_tail}")


def assert_first_failure_replays(result):
    """The run's first recorded failure, replayed with `python -m meeting_room_contract.replay` against
    the standalone mock with the fault (exit 1, the fault's rule named) and the correct mock (exit 0),
    leaves no room behind."""
    assert result.first_failure is not None, f"fault {result.entry.name}: no failures/<id>.json recorded"
    rule = result.first_failure["rule"]
    code, output, rooms = result.replays["fault"]
    assert code == 1 and f"REPRODUCED {rule}" in output, f"fault {result.entry.name}: replay did not reproduce:\n{output}"
    assert rooms == 0, f"fault {result.entry.name}: the replay left {rooms} room(s)"
    code, output, rooms = result.replays["correct"]
    assert code == 0 and "NOT REPRODUCED" in output, f"fault {result.entry.name}: replay against the correct mock:\n{output}"
    assert rooms == 0, f"fault {result.entry.name}: the replay against the correct mock left {rooms} room(s)"
