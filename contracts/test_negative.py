"""Bad input: always a 4xx with a JSON error body, never a 5xx, and nothing changes."""

from __future__ import annotations

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from meeting_room_contract import checks, model, strategies
from meeting_room_contract.checks import rule


@given(data=st.data())
def test_invalid_values_are_rejected_and_change_nothing(data, client, rooms, did_groups, properties_tracker):
    """A body whose every field is valid but one (wrong type, invalid role or code) is refused
    with 400/422 and changes nothing: no field of it is applied (PATCH and PUT)."""
    method = data.draw(st.sampled_from(["PATCH", "PUT"]), label="method")
    valid = data.draw(strategies.put_bodies(did_groups, edge=False), label="valid fields")
    invalid = data.draw(strategies.invalid_field_values(), label="invalid field")
    body = {**valid, **invalid}
    with rooms.fresh(label="bad-input") as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = checks.send_update(client, sid, method, body, properties_tracker)
        if outcome == "conflict" and response.status_code == 409:
            reject()
        checks.update_rejected(outcome, "bad_input.rejected", method, response, model.INVALID_VALUE,
                               f"{method} with invalid {next(iter(invalid))}")


def _duplicate_codes() -> dict:
    code = "4" + strategies.RUN_CODE_SALT + "44"
    return {"access_codes": [{"access_code": code, "role": "host"}, {"access_code": code, "role": "listener"}]}


CONTEXT_CASES = {
    "duplicate access code in one body": (_duplicate_codes, model.CONFLICT),
    "unknown DID group": (lambda: {"did_group_sid": "00000000-0000-4000-8000-000000000000"}, model.UNKNOWN_DID_GROUP),
    "access_codes not an array": (lambda: {"access_codes": {"access_code": "123456", "role": "host"}}, model.INVALID_VALUE),
    "role outside host/listener/participant": (lambda: {"access_codes": [{"access_code": "765" + strategies.RUN_CODE_SALT, "role": "moderator"}]}, model.INVALID_VALUE),
    "body is an array": (lambda: [{"name": "x"}], model.INVALID_VALUE),
}


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("case", list(CONTEXT_CASES))
def test_context_invalid_bodies_are_rejected_and_change_nothing(case, method, client, room, properties_tracker):
    """Values only the server can judge (duplicates, unknown DID groups) and malformed shapes are refused."""
    make_body, allowed = CONTEXT_CASES[case]
    body = make_body()
    if method == "PUT" and isinstance(body, dict):
        body = {"access_codes": [], "properties": {}, "did_group_sid": None, "name": "bad put", **body}
    sid = room["meeting_room_sid"]
    _, response, outcome = checks.send_update(client, sid, method, body, properties_tracker)
    checks.update_rejected(outcome, "bad_input.rejected", method, response, allowed, f"{method} with {case}")


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_unknown_field_is_rejected_or_ignored_never_stored(method, client, room, properties_tracker):
    """An unknown field is refused (400/422) with nothing changed, or ignored: never stored or returned."""
    sid = room["meeting_room_sid"]
    body = {"name": "with an unknown field", "conference_secret_flag": "on"}
    if method == "PUT":
        body.update({"access_codes": [], "properties": {}, "did_group_sid": None})
    _, response, outcome = checks.send_update(client, sid, method, body, properties_tracker)
    if outcome != "applied":
        checks.update_rejected(outcome, "bad_input.unknown_field", method, response, model.UNKNOWN_FIELD_REJECTION,
                               f"{method} with an unknown field")
    checks.RECORDER.behaviour("unknown_field", "ignored" if outcome == "applied" else "rejected")


RAW_CASES = {
    "malformed JSON": ('{"name": "half', {"Content-Type": "application/json"}, model.MALFORMED_JSON),
    "no Content-Type": ('{"name": "no content type"}', {}, model.MISSING_JSON_CONTENT_TYPE),
    "text/plain Content-Type": ('{"name": "text plain"}', {"Content-Type": "text/plain"}, model.MISSING_JSON_CONTENT_TYPE),
}


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("case", list(RAW_CASES))
def test_unparseable_bodies_are_rejected_and_change_nothing(case, method, client, room):
    """Malformed JSON is 400; a body without a JSON Content-Type is 415; nothing changes."""
    data, headers, allowed = RAW_CASES[case]
    sid = room["meeting_room_sid"]
    before = checks.current_room(client, sid, "status.documented_codes", f"room before {method}")
    response = client.request(method, client.room_path(sid), data=data, headers=headers)
    rule_name = "bad_input.content_type" if 415 in allowed else "bad_input.rejected"
    with rule(rule_name, checks.room_path_label(method)):
        checks.status_is_allowed(rule_name, response, allowed, f"{method} with {case}")
        checks.error_body_is_json_object(response)
        after = checks.current_room(client, sid, rule_name, f"{method} with {case}")
        checks.state_matches(rule_name, before, after, response, f"{method} with {case} changed the room")


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_sid_is_404_with_json_error(method, client):
    """A sid that names no room is 404 with a JSON error body."""
    sid = client.registry.unknown_sid()
    body = {"access_codes": [], "properties": {}, "did_group_sid": None, "name": "nobody"} if method in ("PATCH", "PUT") else None
    response = client.request(method, client.room_path(sid), json_body=body)
    with rule("status.documented_codes", checks.room_path_label(method)):
        checks.status_is_allowed("status.documented_codes", response, model.NOT_FOUND, f"{method} of an unknown sid")
    with rule("status.error_body_is_json", checks.room_path_label(method)):
        checks.error_body_is_json_object(response)
