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


# Faults whose first recorded failure a replay cannot judge faithfully (replay exits 4 and says why in
# one line). Such a fault must still be caught by its rule in the run itself (asserted above); the
# replay must say it cannot judge, against the faulty and the correct mock alike, and leave no room.
CANNOT_REPLAY: dict[str, str] = {}
# Faults that keep a room the replay deleted (its DELETE answered 2xx): the room left behind on the
# faulty mock is the fault itself, not the replay's; against the correct mock nothing may be left.
KEEPS_DELETED_ROOMS = {"deleted_room_still_readable": "soft delete: DELETE answers 204, the room stays listed"}
# Faults whose first failure must say how the request differed from an ordinary one (its headline, not
# only its curl line and story).
HEADLINE_SAYS = {"chunked_body_misdecoded": "Transfer-Encoding: chunked"}


def assert_first_failure_replays(result):
    """The run's first recorded failure, replayed with `python -m meeting_room_contract.replay` against
    the standalone mock with the fault (exit 1, the fault's rule named) and the correct mock (exit 0),
    leaves no room behind."""
    assert result.first_failure is not None, f"fault {result.entry.name}: no failures/<id>.json recorded"
    rule = result.first_failure["rule"]
    assert rule == result.entry.declared_rule, (
        f"fault {result.entry.name}: the run's first failure is {rule}, not the fault's rule {result.entry.declared_rule}")
    if result.entry.name in HEADLINE_SAYS:
        assert HEADLINE_SAYS[result.entry.name] in result.first_failure.get("situation", ""), (
            f"fault {result.entry.name}: the first failure's situation does not say "
            f"{HEADLINE_SAYS[result.entry.name]!r}: {result.first_failure.get('situation')!r}")
    fault_code, fault_output, fault_rooms = result.replays["fault"]
    correct_code, correct_output, correct_rooms = result.replays["correct"]
    if result.entry.name in KEEPS_DELETED_ROOMS:
        created = sum(1 for step in result.first_failure["steps"] if step.get("created"))
        assert fault_rooms <= created, f"fault {result.entry.name}: {fault_rooms} room(s) left, the story creates {created}"
    else:
        assert fault_rooms == 0, f"fault {result.entry.name}: the replay left {fault_rooms} room(s)"
    assert correct_rooms == 0, f"fault {result.entry.name}: the replay against the correct mock left {correct_rooms} room(s)"
    if result.entry.name in CANNOT_REPLAY:
        for code, output in ((fault_code, fault_output), (correct_code, correct_output)):
            assert code == 4 and f"CANNOT REPLAY [{rule}]" in output, (
                f"fault {result.entry.name} is listed as not replayable ({CANNOT_REPLAY[result.entry.name]}), "
                f"but the replay exited {code}:\n{output}")
        return
    assert fault_code == 1 and f"REPRODUCED {rule}" in fault_output, (
        f"fault {result.entry.name}: replay did not reproduce (exit {fault_code}):\n{fault_output}")
    assert correct_code == 0 and "NOT REPRODUCED" in correct_output, (
        f"fault {result.entry.name}: replay against the correct mock (exit {correct_code}):\n{correct_output}")
