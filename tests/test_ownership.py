"""The one ownership policy: which rooms a command of the project may change or delete (pure decisions)."""

from __future__ import annotations

from meeting_room_contract import ownership
from meeting_room_contract.registry import RoomRegistry
from meeting_room_contract.run import Run
from meeting_room_contract.spec import default
from meeting_room_contract.target import Target, TargetSettings

ID = "meeting_room_sid"


def _facts() -> RoomRegistry:
    target = Target(TargetSettings(base_url="https://staging.invalid/conference/v2", username="u", password="p"),
                    run_id="tqq1ab-abc")
    Run(target, default())  # the run gives the registry the model's idea of a created room
    return target.registry


def _room(sid: str, **fields) -> dict:
    return {ID: sid, "account_sid": "acct", "name": None, "access_codes": [], "properties": {}, "did_group_sid": None,
            **fields}


def test_a_room_is_the_runs_only_by_its_own_answer_its_own_name_or_a_fresh_sid():
    facts = _facts()
    facts.record_created("ours", owner=type("Owner", (), {"base_url": "x", "credentials": None})())
    assert ownership.may_change(facts, "ours")
    assert not ownership.may_change(facts, "a-colleagues-room")
    probe = facts.unknown_sid()
    assert ownership.may_change(facts, probe)
    name = facts.room_name("room", 1)
    assert ownership.run_name(facts, {"name": name}) == name
    assert ownership.run_name(facts, {"name": "alice's room"}) is None
    assert not ownership.carries_a_name_of_the_run(facts, {"name": name})  # not sent yet: a name alone is no proof
    facts.record_posted_name(name)
    assert ownership.carries_a_name_of_the_run(facts, {"name": name})
    assert not ownership.carries_a_name_of_the_run(facts, {"name": facts.room_name("room", 2)})  # the prefix alone


def test_a_lost_creation_is_the_one_new_room_that_is_what_the_post_makes():
    facts = _facts()
    before = {"old"}
    colleague = _room("c1", name="alice's room", access_codes=[{"access_code": "123456", "role": "host"}])
    made = _room("new")
    found = ownership.attribute_creation(facts, {}, before, [_room("old"), colleague, made], ID)
    assert found.room is not None and found.room[ID] == "new" and not found.nothing_created


def test_two_rooms_that_may_be_the_posts_are_reported_never_adopted():
    facts = _facts()
    found = ownership.attribute_creation(facts, {}, set(), [_room("a"), _room("b")], ID)
    assert found.room is None and {room[ID] for room in found.candidates} == {"a", "b"} and not found.nothing_created


def test_only_other_testers_new_rooms_mean_nothing_was_created():
    facts = _facts()
    colleague = _room("c1", name="alice's room", access_codes=[{"access_code": "123456", "role": "host"}])
    found = ownership.attribute_creation(facts, {"name": "§ edge"}, set(), [colleague], ID)
    assert found.nothing_created


def test_a_new_room_holding_the_posts_fresh_code_in_another_form_is_a_candidate_not_nothing():
    """A server that altered the name: the new room holds the POST's fresh code but not its name. Not proof
    (never adopted), but the POST is not sent again: it may have created that room."""
    facts = _facts()
    sent = {"name": "Cafe\u0301", "access_codes": [{"access_code": "654321", "role": "host"}]}
    altered = _room("n1", name="Caf\u00e9", access_codes=[{"access_code": "654321", "role": "host"}])
    found = ownership.attribute_creation(facts, sent, set(), [altered], ID)
    assert found.room is None and [room[ID] for room in found.candidates] == ["n1"] and not found.nothing_created


def test_rooms_named_like_the_run_or_already_its_own_are_never_candidates():
    facts = _facts()
    other_worker = _room("w1", name=facts.room_name("room", 3))
    found = ownership.attribute_creation(facts, {}, set(), [other_worker], ID)
    assert found.nothing_created
