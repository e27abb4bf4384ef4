"""The contract model: the merge rule, replacement, and order-free comparison."""

from meeting_room_contract import model
from meeting_room_contract.model import PropertiesMode

ROOM = {
    "access_codes": [{"access_code": "1", "role": "host"}, {"access_code": "2", "role": "listener"}],
    "account_sid": "acc", "properties": {"a": "1", "b": "2"}, "did_group_sid": None,
    "meeting_room_sid": "room", "name": "old",
}


def test_patch_sets_sent_fields_and_keeps_the_rest():
    new = model.apply_patch(ROOM, {"name": "new"}, PropertiesMode.MERGE)
    assert new == {**ROOM, "name": "new"}


def test_patch_never_applies_read_only_or_unknown_fields():
    new = model.apply_patch(ROOM, {"account_sid": "x", "meeting_room_sid": "y", "extra": 1}, PropertiesMode.MERGE)
    assert new == ROOM


def test_properties_merge_and_replace_differ():
    body = {"properties": {"b": "3", "c": "4"}}
    assert model.apply_patch(ROOM, body, PropertiesMode.MERGE)["properties"] == {"a": "1", "b": "3", "c": "4"}
    assert model.apply_patch(ROOM, body, PropertiesMode.REPLACE)["properties"] == {"b": "3", "c": "4"}


def test_put_replaces_every_modifiable_field():
    body = {"access_codes": [], "properties": {"z": "9"}, "did_group_sid": "g", "name": "n", "account_sid": "x"}
    assert model.apply_put(ROOM, body) == {**ROOM, "access_codes": [], "properties": {"z": "9"},
                                            "did_group_sid": "g", "name": "n"}


def test_access_codes_compare_as_a_set():
    reordered = {**ROOM, "access_codes": list(reversed(ROOM["access_codes"]))}
    assert model.differences(ROOM, reordered) == []
    assert model.differences(ROOM, {**ROOM, "access_codes": ROOM["access_codes"][:1]})


def test_read_only_changes_ignore_current_values():
    assert model.read_only_changes({"account_sid": "acc", "meeting_room_sid": "other"}, ROOM) == {"meeting_room_sid": "other"}


def test_value_rules():
    assert model.invalid_value_reasons({"name": "x", "properties": {"a": "1"}, "did_group_sid": None,
                                        "access_codes": [{"access_code": "007", "role": "participant"}]}) == []
    for bad in ({"name": 1}, {"properties": {"a": 1}}, {"properties": []}, {"did_group_sid": 5},
                {"access_codes": [{"access_code": "12a", "role": "host"}]},
                {"access_codes": [{"access_code": "١٢٣", "role": "host"}]},
                {"access_codes": [{"access_code": "123", "role": "admin"}]}, {"access_codes": "x"}):
        assert model.invalid_value_reasons(bad), bad
    assert model.duplicate_codes([{"access_code": "1"}, {"access_code": "1"}]) == {"1"}
    assert model.missing_put_fields({"name": "x"}) == ["access_codes", "properties", "did_group_sid"]
