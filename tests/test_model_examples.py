"""The contract model against examples written from CONTRACT.md, independent of the mock.

The mock and the checks both use `model.py`, so a bug there would make them agree; these rows
were written from the rules' text, not from the code. Each row: the room before, the body,
the expected state (PATCH under merge and under replace, or PUT), and the expected verdicts.
"""

from __future__ import annotations

import pytest

from meeting_room_contract import model
from meeting_room_contract.model import PropertiesMode

ROOM = {
    "access_codes": [{"access_code": "890671", "role": "host"}, {"access_code": "265423", "role": "listener"}],
    "account_sid": "a1f38bf7-5879-49c1-be72-50ffa7f249a6",
    "properties": {"conference_start_wait": "360", "conference_mute_policy": "hpl"},
    "did_group_sid": None,
    "meeting_room_sid": "2652635f-10a6-4b2a-a46b-2eeb75ddeab6",
    "name": "My meeting room",
}


def room(**changes):
    return {**ROOM, **changes}


# (case, body, PATCH state under merge, PATCH state under replace)   -- patch.partial_update,
# patch.empty_body, patch.properties_merge_or_replace, read_only.never_applied, bad_input.unknown_field
PATCH_EXAMPLES = [
    ("empty body changes nothing", {}, ROOM, ROOM),
    ("name only", {"name": "Renamed"}, room(name="Renamed"), room(name="Renamed")),
    ("null DID group is a value, not 'absent'", {"did_group_sid": None}, ROOM, ROOM),
    ("DID group set", {"did_group_sid": "g1"}, room(did_group_sid="g1"), room(did_group_sid="g1")),
    ("codes replaced as a whole", {"access_codes": [{"access_code": "143623", "role": "participant"}]},
     room(access_codes=[{"access_code": "143623", "role": "participant"}]),
     room(access_codes=[{"access_code": "143623", "role": "participant"}])),
    ("codes emptied", {"access_codes": []}, room(access_codes=[]), room(access_codes=[])),
    ("properties: new key merged or the object replaced", {"properties": {"conference_stop_wait": "60"}},
     room(properties={"conference_start_wait": "360", "conference_mute_policy": "hpl", "conference_stop_wait": "60"}),
     room(properties={"conference_stop_wait": "60"})),
    ("properties: existing key overwritten", {"properties": {"conference_start_wait": "0"}},
     room(properties={"conference_start_wait": "0", "conference_mute_policy": "hpl"}),
     room(properties={"conference_start_wait": "0"})),
    ("properties: {} merges nothing, replaces everything", {"properties": {}}, ROOM, room(properties={})),
    ("read-only values are never applied", {"account_sid": "other", "meeting_room_sid": "other", "name": "x"},
     room(name="x"), room(name="x")),
    ("unknown fields are never stored", {"conference_secret_flag": "on"}, ROOM, ROOM),
]


@pytest.mark.parametrize("case, body, merged, replaced", PATCH_EXAMPLES, ids=[row[0] for row in PATCH_EXAMPLES])
def test_patch_examples(case, body, merged, replaced):
    assert model.apply_patch(ROOM, body, PropertiesMode.MERGE) == merged
    assert model.apply_patch(ROOM, body, PropertiesMode.REPLACE) == replaced
    assert ROOM["properties"] == {"conference_start_wait": "360", "conference_mute_policy": "hpl"}  # never mutated


FULL = {"access_codes": [], "properties": {"conference_stop_wait": "5"}, "did_group_sid": "g2", "name": "Put"}


def test_put_replaces_every_modifiable_field_and_keeps_read_only_ones():   # put.full_replacement
    assert model.apply_put(ROOM, {**FULL, "account_sid": "x", "meeting_room_sid": "y", "extra": 1}) == room(**FULL)


# (case, method, body, invalid?, missing PUT fields, read-only changes, unknown fields, duplicate codes)
VERDICT_EXAMPLES = [
    ("valid full PUT", "PUT", FULL, False, [], {}, [], set()),
    ("PUT without name", "PUT", {k: v for k, v in FULL.items() if k != "name"}, False, ["name"], {}, [], set()),
    ("PUT with current read-only values", "PUT", {**FULL, "account_sid": ROOM["account_sid"]}, False, [], {}, [], set()),
    ("PATCH with another meeting_room_sid", "PATCH", {"meeting_room_sid": "x"}, False, None, {"meeting_room_sid": "x"}, [], set()),
    ("name must be a string", "PATCH", {"name": 5}, True, None, {}, [], set()),
    ("property values are strings, numbers included", "PATCH", {"properties": {"conference_start_wait": 360}}, True, None, {}, [], set()),
    ("properties must be an object", "PATCH", {"properties": ["a"]}, True, None, {}, [], set()),
    ("DID group: string or null", "PATCH", {"did_group_sid": 7}, True, None, {}, [], set()),
    ("codes are DTMF: * and # allowed", "PATCH", {"access_codes": [{"access_code": "*6#1", "role": "host"}]}, False, None, {}, [], set()),
    ("codes of another length are edge values, not invalid", "PATCH", {"access_codes": [{"access_code": "12", "role": "host"}]},
     False, None, {}, [], set()),
    ("codes are never letters", "PATCH", {"access_codes": [{"access_code": "12ab56", "role": "host"}]}, True, None, {}, [], set()),
    ("codes are never empty", "PATCH", {"access_codes": [{"access_code": "", "role": "host"}]}, True, None, {}, [], set()),
    ("non-ASCII digits are not DTMF", "PATCH", {"access_codes": [{"access_code": "١٢٣٤٥٦", "role": "host"}]}, True, None, {}, [], set()),
    ("roles are host, listener, participant", "PATCH", {"access_codes": [{"access_code": "123456", "role": "admin"}]},
     True, None, {}, [], set()),
    ("a code repeated in one body", "PATCH", {"access_codes": [{"access_code": "123456", "role": "host"},
                                                               {"access_code": "123456", "role": "listener"}]},
     False, None, {}, [], {"123456"}),
    ("an unknown field", "PATCH", {"name": "x", "conference_secret_flag": "on"}, False, None, {}, ["conference_secret_flag"], set()),
]


@pytest.mark.parametrize("case, method, body, invalid, missing, read_only, unknown, duplicates", VERDICT_EXAMPLES,
                         ids=[row[0] for row in VERDICT_EXAMPLES])
def test_verdict_examples(case, method, body, invalid, missing, read_only, unknown, duplicates):
    assert bool(model.invalid_value_reasons(body)) is invalid
    if missing is not None:
        assert model.missing_put_fields(body) == missing
    assert model.read_only_changes(body, ROOM) == read_only
    assert model.unknown_fields(body) == unknown
    assert model.duplicate_codes(body.get("access_codes")) == duplicates


def test_rooms_compare_as_the_contract_does():
    reordered = room(access_codes=list(reversed(ROOM["access_codes"])))
    assert model.differences(ROOM, reordered) == []  # codes are a set of (code, role)
    assert model.differences(ROOM, room(access_codes=[{"access_code": "890671", "role": "listener"},
                                                     {"access_code": "265423", "role": "host"}]))  # roles matter
    assert model.differences(ROOM, {**ROOM, "extra": 1}) == []  # undocumented fields are drift, not a difference
    assert model.differences(ROOM, room(name="My meeting room ")) != []  # exact values
