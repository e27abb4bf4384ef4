"""Request-side HTTP (`request.json_body_forms`): a JSON body is the same input in every form.

`Content-Type: application/json` with parameters or in another letter case is `application/json`
(media types are case-insensitive and take parameters: common client libraries send
`; charset=utf-8`); a body whose non-ASCII characters travel as raw UTF-8 and the same body written
with `\\u` escapes (surrogate pairs outside the BMP) are the same input and store the same value.
Every body is sent by hand (`requests`' `json=` always escapes), by POST, PATCH and PUT.
"""

from __future__ import annotations

import json

import pytest

from meeting_room_contract import checks, model, puts, strategies
from meeting_room_contract.checks import ContractViolation, rule
from meeting_room_contract.observations import RECORDER
from meeting_room_contract.rooms import NAME_KEY
from meeting_room_contract.rules import UpdateOutcome
from test_edge_values import create_room  # POST with gateway recovery by a fresh code (names that are edge values)

RULE = "request.json_body_forms"
CREATE = "POST /meeting_rooms"
CONTENT_TYPES = ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"]
METHODS = ["POST", "PATCH", "PUT"]
# Text in which escapes and raw UTF-8 differ: Latin-1, other BMP scripts, a character outside the
# BMP (a surrogate pair when escaped), and a combining sequence (NFD).
TEXTS = {"latin1-cjk-astral": "Zoë 会議室 𝄞🎉", "combining-nfd": "Cafe\u0301 Mu\u0308ller"}
# (form, Content-Type, ensure_ascii): how the same body travels.
BODY_FORMS = [("escaped", "application/json", True), ("raw-utf8", "application/json", False),
              ("raw-utf8-charset", "application/json; charset=utf-8", False)]


def _encoded(body: dict, escaped: bool) -> bytes:
    return json.dumps(body, ensure_ascii=escaped).encode("utf-8")


def _valid_body(rooms) -> dict:
    """A valid body of every modifiable field but the DID group: a plain name of the run, fresh codes,
    documented properties."""
    return {NAME_KEY: rooms.name("form"), **strategies.sample_values()}


def _post(client, body: dict, data: bytes, content_type: str, situation: str) -> tuple:
    """POST the bytes; an accepted room must carry the body's values (answer and read back), then is
    deleted. Returns the answer and how the target answered (a proven conflict: CONFLICT)."""
    response = create_room(client, body, data=data, content_type=content_type)  # recorded when created
    checks.never_5xx(response, CREATE, situation)
    if response.status_code >= 400:
        provable = response.status_code == 409 or (response.status_code in (400, 422)
                                                    and not model.invalid_value_reasons(body))
        holders = checks.conflict_explained(client, None, None, "POST", body, response) if provable else []
        checks.error_body_is_json_object(response, CREATE)
        return response, UpdateOutcome.CONFLICT if holders else UpdateOutcome.REJECTED
    created = checks.room_answer("status.documented_codes", response, CREATE, situation)
    sid = created[model.ID_FIELD]
    try:
        checks.state_matches(RULE, {**created, **body}, created, response, CREATE, f"{situation}: the answer",
                             fields=tuple(body))
        after = checks.current_room(client, sid, RULE, situation)
        checks.state_matches(RULE, {**after, **body}, after, response, CREATE, f"{situation}: read back",
                             fields=tuple(body))
    finally:
        client.delete_room(sid)
    return response, UpdateOutcome.APPLIED


def _update(client, sid: str, method: str, body: dict, escaped: bool, content_type: str, tracker) -> tuple:
    """GET the room, send the PATCH/PUT bytes, judge the answer with `checks.judge_update` (state under RULE)."""
    before = checks.current_room(client, sid, "status.documented_codes", f"room before {method}")
    if method == "PUT":
        body = puts.CURRENT.complete(body, before)
    response = client.request(method, client.room_path(sid), data=_encoded(body, escaped),
                              headers={"Content-Type": content_type})
    return response, checks.judge_update(client, sid, before, method, body, response, tracker, state_rule=RULE)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("method", METHODS)
def test_json_content_type_forms_are_json(method, content_type, client, rooms, did_groups, properties_tracker):
    """A valid body with `application/json; charset=utf-8` (and other spellings) is accepted and applied."""
    body = _valid_body(rooms)
    situation = f"{method} of a valid body with Content-Type {content_type!r}"
    if method == "POST":
        response, outcome = _post(client, body, _encoded(body, True), content_type, situation)
        if outcome is UpdateOutcome.CONFLICT:
            RECORDER.unchecked(RULE, CREATE, "valid POST refused, proven by another room holding a code; not judged")
            return
        with rule(RULE, CREATE):
            if outcome is not UpdateOutcome.APPLIED:
                raise ContractViolation(RULE, f"{situation} was refused with HTTP {response.status_code}",
                                        response=response)
        return
    with rooms.fresh(label="ctype") as created:
        if method == "PUT":
            body = {**strategies.simplest_body(did_groups), **body}
        response, outcome = _update(client, created[model.ID_FIELD], method, body, True, content_type, properties_tracker)
        if not checks.valid_update_accepted(outcome, RULE, method, response):
            RECORDER.unchecked(RULE, checks.room_path_label(method), "valid update refused, proven by another room "
                               "holding a code; not judged")


@pytest.mark.parametrize("text", list(TEXTS), ids=list(TEXTS))
@pytest.mark.parametrize("method", METHODS)
def test_raw_utf8_and_escapes_are_the_same_input(method, text, client, rooms, properties_tracker):
    """The same name sent with `\\u` escapes, as raw UTF-8, and as raw UTF-8 with `charset=utf-8`:
    each form gets the same verdict, and an accepted one stores exactly the sent name."""
    value = TEXTS[text]
    verdicts: dict[str, UpdateOutcome] = {}
    last = None
    operation = CREATE if method == "POST" else checks.room_path_label(method)
    for form, content_type, escaped in BODY_FORMS:
        situation = f"{method} of name {value!r} as {form} ({content_type})"
        if method == "POST":
            codes = {model.UNIQUE[0].array_field: strategies.fresh_access_codes(1)} if model.UNIQUE else {}
            body = {NAME_KEY: value, **codes}
            last, verdicts[form] = _post(client, body, _encoded(body, escaped), content_type, situation)
        else:
            with rooms.fresh(label="utf8") as created:
                body = {NAME_KEY: value}
                if method == "PUT":
                    body = strategies.complete_put(body, created)
                last, verdicts[form] = _update(client, created[model.ID_FIELD], method, body, escaped, content_type,
                                               properties_tracker)
        if verdicts[form] is UpdateOutcome.REJECTED:
            checks.rejection_status("status_invalid_value", last, operation, situation)
    if UpdateOutcome.CONFLICT in verdicts.values():
        RECORDER.unchecked(RULE, operation, "a form was refused, proven by another room holding a code; not judged")
        return
    with rule(RULE, operation):
        if len(set(verdicts.values())) > 1:
            raise ContractViolation(RULE, f"{method} of name {value!r}: the same input got different verdicts by form: "
                                    + ", ".join(f"{form}: {verdict.value}" for form, verdict in verdicts.items()),
                                    response=last)
    checks.observe("edge_values", "accepted" if UpdateOutcome.APPLIED in verdicts.values() else "refused", operation)
