"""The spec is valid OpenAPI, matches the docs' sample, and marks read-only fields."""

import jsonschema
from openapi_spec_validator import validate

from meeting_room_contract import model, spec

DOCS_SAMPLE = {  # the sample response of the vendor's "Update Meeting Room" page (MR-UPDATE)
    "access_codes": [
        {"access_code": "890671", "role": "host"},
        {"access_code": "265423", "role": "listener"},
        {"access_code": "143623", "role": "participant"},
    ],
    "account_sid": "a1f38bf7-5879-49c1-be72-50ffa7f249a6",
    "properties": {},
    "did_group_sid": None,
    "meeting_room_sid": "2652635f-10a6-4b2a-a46b-2eeb75ddeab6",
    "name": "Updated meeting room",
}


def test_spec_is_valid_openapi():
    validate(spec.load_spec())


def test_docs_sample_object_validates_against_meeting_room_schema():
    jsonschema.validate(DOCS_SAMPLE, spec.resolved_schema("MeetingRoom"))


def test_schema_rejects_a_room_missing_a_documented_field():
    broken = {key: value for key, value in DOCS_SAMPLE.items() if key != "did_group_sid"}
    validator = jsonschema.Draft202012Validator(spec.resolved_schema("MeetingRoom"))
    assert not validator.is_valid(broken)


def test_read_only_fields_are_marked_read_only():
    assert spec.read_only_fields() == ("account_sid", "meeting_room_sid")
    properties = spec.component_schema("MeetingRoom")["properties"]
    assert all(properties[name].get("readOnly") is True for name in ("account_sid", "meeting_room_sid"))


def test_model_reads_modifiable_fields_from_the_spec():
    assert set(model.Model(spec.default()).MODIFIABLE_FIELDS) == {"access_codes", "properties", "did_group_sid", "name"}


def test_put_body_requires_every_modifiable_field():
    assert set(spec.component_schema("MeetingRoomPut")["required"]) == set(model.Model(spec.default()).MODIFIABLE_FIELDS)


def test_every_operation_is_documented_with_its_statuses():
    paths = spec.load_spec()["paths"]
    assert set(paths["/meeting_rooms"]) == {"get", "post"}
    assert {"get", "patch", "put", "delete"} <= set(paths["/meeting_rooms/{meeting_room_sid}"])
    assert "get" in paths["/did_groups"]
    for method in ("patch", "put"):
        statuses = set(paths["/meeting_rooms/{meeting_room_sid}"][method]["responses"])
        assert {"200", "400", "401", "404", "409", "415", "422"} <= statuses
