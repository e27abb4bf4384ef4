"""A 409 is proven, never skipped: a room of the account must hold the code, or it is a violation."""

from __future__ import annotations

import pytest

from meeting_room_contract import actions
from meeting_room_contract.judges import ContractViolation, conflicts
from meeting_room_contract.rooms import RoomFactory
from meeting_room_contract.rules import UpdateOutcome


def test_a_409_that_no_room_explains_is_a_violation(make_run):
    """A server answering 409 to a valid update (no room holds the code) fails `uniqueness.conflict_explained`."""
    run = make_run(faults=("bogus_conflict_on_codes_with_other_field",))
    client = run.target.client("primary")
    room = RoomFactory(run, client).create({}, label="victim")
    with pytest.raises(ContractViolation) as raised:
        actions.send_update(run, client, room["meeting_room_sid"], "PATCH",
                            {"name": "x", "access_codes": [{"access_code": "246813", "role": "host"}]})
    assert raised.value.rule == "uniqueness.conflict_explained"
    assert raised.value.failure.rule == "uniqueness.conflict_explained"


def test_a_code_another_room_really_holds_is_a_proven_conflict(make_run):
    """A room the suite did not create holds the code: the 409 is proven, the outcome a conflict, no violation."""
    run = make_run()
    client = run.target.client("primary")
    run.target.mock.add_other_tester_room([{"access_code": "135790", "role": "host"}], None)  # someone else's room
    room = RoomFactory(run, client).create({}, label="ours")
    _, response, outcome = actions.send_update(run, client, room["meeting_room_sid"], "PATCH",
                                               {"name": "y", "access_codes": [{"access_code": "135790", "role": "host"}]})
    assert response.status_code == 409
    assert outcome is UpdateOutcome.CONFLICT


def test_a_code_in_use_refused_with_422_is_proven_too(make_run):
    """Servers may refuse a code in use with 400/422: the suite proves those the same way."""
    run = make_run(variants=("rejections_400",))
    client = run.target.client("primary")
    run.target.mock.add_other_tester_room([{"access_code": "135791", "role": "host"}], None)
    room = RoomFactory(run, client).create({}, label="ours")
    _, response, outcome = actions.send_update(run, client, room["meeting_room_sid"], "PUT",
                                               {"name": "y", "properties": {}, "did_group_sid": None,
                                                "access_codes": [{"access_code": "135791", "role": "host"}]})
    assert response.status_code == 400
    assert outcome is UpdateOutcome.CONFLICT


def test_only_holders_in_the_uniqueness_scope_of_codes_the_request_sets_explain_a_refusal(make_run):
    """A name-only PATCH sets no code: a room of another DID group holding the room's code explains
    nothing (unknown or shared across groups); a room of the same group does (a race); once the
    target is known to refuse codes across groups, any group does."""
    run = make_run()
    before = {"access_codes": [{"access_code": "111222", "role": "host"}], "did_group_sid": None, "name": "a",
              "properties": {}}
    other_group = {"room": "r2", "scope": ("g2",), "same_scope": False, "codes": ["111222"]}
    same_group = {"room": "r3", "scope": (None,), "same_scope": True, "codes": ["111222"]}
    name_only = {"name": "b"}
    context = run.context()
    assert context.codes_across_did_groups is None
    candidate = conflicts.candidate_state(context, before, "PATCH", name_only)
    assert conflicts.codes_set_by(context, before, "PATCH", name_only, candidate) == set()
    assert conflicts.explaining_holders(context, [other_group], before, "PATCH", name_only) == []
    assert conflicts.explaining_holders(context, [same_group], before, "PATCH", name_only) == [same_group]
    codes = {"access_codes": before["access_codes"]}
    assert conflicts.explaining_holders(context, [other_group], before, "PATCH", codes) \
        == [other_group]  # not known yet: the refusal of a code the PATCH sets is evidence of "refused"
    moved = {"did_group_sid": "g2"}
    assert conflicts.codes_set_by(context, before, "PATCH", moved,
                                  conflicts.candidate_state(context, before, "PATCH", moved)) == {"111222"}
    run.recorder.behaviour("codes_across_did_groups", "shared")
    assert run.context().codes_across_did_groups == "shared"
    assert conflicts.explaining_holders(run.context(), [other_group], before, "PATCH", codes) == []
    refusing = make_run()
    refusing.recorder.behaviour("codes_across_did_groups", "refused")
    assert conflicts.explaining_holders(refusing.context(), [other_group], before, "PATCH", name_only) == [other_group]
    pinned = make_run(pins={"codes_across_did_groups": "shared"})  # a pin wins over what was seen
    pinned.recorder.behaviour("codes_across_did_groups", "refused")
    assert conflicts.explaining_holders(pinned.context(), [other_group], before, "PATCH", codes) == []
