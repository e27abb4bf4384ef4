"""Bad input: always a 4xx with a JSON error body, never a 5xx, and nothing changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, strategies
from meeting_room_contract.rules import UpdateOutcome


@given(data=st.data())
def test_invalid_values_are_rejected_and_change_nothing(data, client, rooms, did_groups, run):
    """A body whose every field is valid but one (wrong type, invalid role or code) is refused
    with 400/422 and changes nothing: no field of it is applied (PATCH and PUT)."""
    method = data.draw(st.sampled_from(["PATCH", "PUT"]), label="method")
    valid = data.draw(strategies.put_bodies(run, did_groups), label="valid fields")
    invalid = data.draw(strategies.invalid_field_values(run), label="invalid field")
    body = {**valid, **invalid}
    with rooms.reused(label="badinput") as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = actions.send_update(run, client, sid, method, body)
        actions.update_refused(run, outcome, "status_invalid_value", method, response, f"{method} with invalid {next(iter(invalid))}")


def _duplicate_codes(run) -> dict:
    """The first `x-unique` array with its unique value (a code) in two items."""
    unique = run.model.UNIQUE[0]
    items = strategies.fresh_access_codes(run, 2)
    items[1][unique.item_field] = items[0][unique.item_field]
    return {unique.array_field: items}


def _unknown_reference(run) -> dict:
    return {reference.field: "00000000-0000-4000-8000-000000000000" for reference in run.model.REFERENCES}


def _item_not_in_array(run) -> dict:
    return {run.model.UNIQUE[0].array_field: strategies.fresh_access_codes(run, 1)[0]}


def _item_outside_enum(run) -> dict:
    """An item whose enum fields (the role) hold a value outside the spec's enum."""
    item = strategies.fresh_access_codes(run, 1)[0]
    schema = run.model.spec.field_schema(run.model.UNIQUE[0].array_field)["items"]["properties"]
    return {run.model.UNIQUE[0].array_field: [{**item, **{name: "no-such-" + name for name in item if "enum" in schema[name]}}]}


CONTEXT_CASES = {
    "duplicate access code in one body": (_duplicate_codes, "status_duplicate_code"),
    "unknown DID group": (_unknown_reference, "status_unknown_did_group"),
    "empty DID group sid": (lambda run: {reference.field: "" for reference in run.model.REFERENCES}, "status_unknown_did_group"),
    "DID group sid that is no sid": (lambda run: {reference.field: "not-a-sid" for reference in run.model.REFERENCES},
                                     "status_unknown_did_group"),
    "access_codes not an array": (_item_not_in_array, "status_invalid_value"),
    "role outside its enum": (_item_outside_enum, "status_invalid_value"),
    "body is an array": (lambda run: [strategies.simplest_body(run, ())], "status_invalid_value"),
}


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("case", list(CONTEXT_CASES))
def test_context_invalid_bodies_are_rejected_and_change_nothing(case, method, client, room, run):
    """Values only the server can judge (duplicates, unknown DID groups) and malformed shapes are refused."""
    make_body, status_behaviour = CONTEXT_CASES[case]
    body = make_body(run)
    if method == "PUT" and isinstance(body, dict):
        body = {**strategies.simplest_body(run, ()), **body}
    sid = room["meeting_room_sid"]
    _, response, outcome = actions.send_update(run, client, sid, method, body)
    actions.update_refused(run, outcome, status_behaviour, method, response, f"{method} with {case}")


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_unknown_field_is_rejected_or_ignored_never_stored(method, client, room, run):
    """An unknown field is refused (400/422) with nothing changed, or ignored: never stored or returned."""
    sid = room["meeting_room_sid"]
    body = {**strategies.simplest_body(run, (), fields=run.model.MODIFIABLE_FIELDS[-1:]), "conference_secret_flag": "on"}
    if method == "PUT":
        body = {**strategies.simplest_body(run, ()), **body}
    _, response, outcome = actions.send_update(run, client, sid, method, body)
    if outcome is UpdateOutcome.REJECTED:
        actions.rejection_status(run, "status_unknown_field", response, room_operation(method), f"{method} with an unknown field")
        actions.observe(run, "unknown_fields", "rejected", room_operation(method), response)
    # accepted: judge_update has checked that the field was neither stored nor returned


RAW_CASES = {
    "malformed JSON": ('{"name": "half', {"Content-Type": "application/json"}, "bad_input.rejected", {400}),
    "no Content-Type": ('{"name": "no content type"}', {}, "bad_input.content_type", {415}),
    "text/plain Content-Type": ('{"name": "text plain"}', {"Content-Type": "text/plain"}, "bad_input.content_type", {415}),
}


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("case", list(RAW_CASES))
def test_unparseable_bodies_are_rejected_and_change_nothing(case, method, client, room, run):
    """Malformed JSON is 400; a body without a JSON Content-Type is 415; nothing changes."""
    data, headers, rule_id, allowed = RAW_CASES[case]
    sid = room["meeting_room_sid"]
    operation = room_operation(method)
    before = actions.read_room(run, client, sid, f"room before {method}")
    response = client.request(method, client.room_path(sid), data=data, headers=headers)
    actions.status_is(run, rule_id, response, frozenset(allowed), operation, f"{method} with {case}")
    actions.error_body_is_json_object(run, response, operation)
    after = actions.read_room(run, client, sid, f"{method} with {case}")
    actions.state_matches(run, rule_id, before, after, response, operation, f"{method} with {case} changed the room")


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_sid_is_404_with_json_error(method, client, run):
    """A sid that names no room is 404 with a JSON error body (a room a faulty server creates is deleted)."""
    sid = client.registry.unknown_sid()
    body = strategies.simplest_body(run, ()) if method in ("PATCH", "PUT") else None
    if method == "PUT":  # valid but for the sid: the path's sid and the login's account
        body = actions.complete_put_for(run, body, sid, client)
    response = client.request(method, client.room_path(sid), json_body=body)
    if 200 <= response.status_code < 300 and method in ("PATCH", "PUT"):
        client.registry.record_created(sid, client)  # the server created it (an upsert): ours to delete
    operation = room_operation(method)
    actions.status_is(run, "status.documented_codes", response, frozenset({404}), operation, f"{method} of an unknown sid")
    actions.error_body_is_json_object(run, response, operation)
