"""A 409 is proven, never skipped: a room of the account must hold the code, or it is a violation."""

from __future__ import annotations

import pytest

from meeting_room_contract import checks
from meeting_room_contract.checks import ContractViolation, PropertiesModeTracker
from meeting_room_contract.client import ConferenceClient, Politeness, RateLimiter, RequestCounter, RoomRegistry
from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.redaction import Credentials
from meeting_room_contract.rooms import RoomFactory
from meeting_room_contract.rules import UpdateOutcome


def _client(mock: MeetingRoomMock) -> ConferenceClient:
    return ConferenceClient(mock.base_url, Credentials("conference_user_123", "qwerty123"), RoomRegistry("unit", "contract-test"),
                            Politeness(timeout=5), RateLimiter(0), RequestCounter())


def test_a_409_that_no_room_explains_is_a_violation():
    """A server answering 409 to a valid update (no room holds the code) fails `uniqueness.conflict_explained`."""
    with MeetingRoomMock(faults=("bogus_conflict_on_codes_with_other_field",)) as mock:
        client = _client(mock)
        room = RoomFactory(client).create({}, label="victim")
        with pytest.raises(ContractViolation) as raised:
            checks.send_update(client, room["meeting_room_sid"], "PATCH",
                               {"name": "x", "access_codes": [{"access_code": "246813", "role": "host"}]}, PropertiesModeTracker())
    assert raised.value.rule == "uniqueness.conflict_explained"


def test_a_code_another_room_really_holds_is_a_proven_conflict():
    """A room the suite did not create holds the code: the 409 is proven, the outcome a conflict, no violation."""
    with MeetingRoomMock() as mock:
        mock.add_other_tester_room([{"access_code": "135790", "role": "host"}], None)  # someone else's room
        client = _client(mock)
        room = RoomFactory(client).create({}, label="ours")
        _, response, outcome = checks.send_update(client, room["meeting_room_sid"], "PATCH",
                                                  {"name": "y", "access_codes": [{"access_code": "135790", "role": "host"}]},
                                                  PropertiesModeTracker())
    assert response.status_code == 409
    assert outcome is UpdateOutcome.CONFLICT


def test_a_code_in_use_refused_with_422_is_proven_too():
    """Servers may refuse a code in use with 400/422: the suite proves those the same way."""
    with MeetingRoomMock(variants=("rejections_400",)) as mock:
        mock.add_other_tester_room([{"access_code": "135791", "role": "host"}], None)
        client = _client(mock)
        room = RoomFactory(client).create({}, label="ours")
        _, response, outcome = checks.send_update(client, room["meeting_room_sid"], "PUT",
                                                  {"name": "y", "properties": {}, "did_group_sid": None,
                                                   "access_codes": [{"access_code": "135791", "role": "host"}]},
                                                  PropertiesModeTracker())
    assert response.status_code == 400
    assert outcome is UpdateOutcome.CONFLICT


def test_only_holders_in_the_uniqueness_scope_of_codes_the_request_sets_explain_a_refusal(monkeypatch):
    """A name-only PATCH sets no code: a room of another DID group holding the room's code explains
    nothing (unknown or shared across groups); a room of the same group does (a race); once the
    target is known to refuse codes across groups, any group does."""
    from meeting_room_contract.observations import Recorder

    recorder = Recorder()
    monkeypatch.setattr(checks, "RECORDER", recorder)
    before = {"access_codes": [{"access_code": "111222", "role": "host"}], "did_group_sid": None, "name": "a",
              "properties": {}}
    other_group = {"room": "r2", "scope": ("g2",), "same_scope": False, "codes": ["111222"]}
    same_group = {"room": "r3", "scope": (None,), "same_scope": True, "codes": ["111222"]}
    name_only = {"name": "b"}
    candidate = checks.candidate_state(before, "PATCH", name_only)
    assert checks.codes_set_by(before, "PATCH", name_only, candidate) == set()
    assert checks.explaining_holders([other_group], before, "PATCH", name_only, candidate) == []
    assert checks.explaining_holders([same_group], before, "PATCH", name_only, candidate) == [same_group]
    codes = {"access_codes": before["access_codes"]}
    assert checks.explaining_holders([other_group], before, "PATCH", codes, checks.candidate_state(before, "PATCH", codes)) \
        == [other_group]  # not known yet: the refusal of a code the PATCH sets is evidence of "refused"
    moved = {"did_group_sid": "g2"}
    assert checks.codes_set_by(before, "PATCH", moved, checks.candidate_state(before, "PATCH", moved)) == {"111222"}
    recorder.behaviour("codes_across_did_groups", "shared")
    assert checks.explaining_holders([other_group], before, "PATCH", codes, checks.candidate_state(before, "PATCH", codes)) == []
    recorder2 = Recorder()
    recorder2.behaviour("codes_across_did_groups", "refused")
    monkeypatch.setattr(checks, "RECORDER", recorder2)
    assert checks.explaining_holders([other_group], before, "PATCH", name_only, candidate) == [other_group]
