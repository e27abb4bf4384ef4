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
        mock.store._other_tester_room([{"access_code": "135790", "role": "host"}], None)  # someone else's room
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
        mock.store._other_tester_room([{"access_code": "135791", "role": "host"}], None)
        client = _client(mock)
        room = RoomFactory(client).create({}, label="ours")
        _, response, outcome = checks.send_update(client, room["meeting_room_sid"], "PUT",
                                                  {"name": "y", "properties": {}, "did_group_sid": None,
                                                   "access_codes": [{"access_code": "135791", "role": "host"}]},
                                                  PropertiesModeTracker())
    assert response.status_code == 400
    assert outcome is UpdateOutcome.CONFLICT
