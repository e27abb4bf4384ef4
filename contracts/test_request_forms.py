"""Request-side HTTP (`request.json_body_forms`): a JSON body is the same input in every form.

`Content-Type: application/json` with parameters or in another letter case is `application/json`
(media types are case-insensitive and take parameters: common client libraries send
`; charset=utf-8`); a body whose non-ASCII characters travel as raw UTF-8 and the same body written
with `\\u` escapes (surrogate pairs outside the BMP) are the same input and store the same value.
A body sent with `Transfer-Encoding: chunked` is the same input too, or refused whole (behaviour
`chunked_request_body`). Every body is sent by hand (`requests`' `json=` always escapes), by POST,
PATCH and PUT (chunked: PATCH and PUT).
"""

from __future__ import annotations

import json

import pytest

from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract import actions, strategies
from meeting_room_contract.actions import NAME_KEY
from meeting_room_contract.rules import UpdateOutcome
from meeting_room_contract.transport import Chunked, TargetUnavailable

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


def _valid_body(run, rooms) -> dict:
    """A valid body of every modifiable field but the DID group: a plain name of the run, fresh codes,
    documented properties."""
    return {NAME_KEY: rooms.name("form"), **strategies.sample_values(run)}


def _post(run, client, body: dict, data: bytes, content_type: str, situation: str) -> tuple:
    """POST the bytes; an accepted room must carry the body's values (answer and read back), then is
    deleted. Returns the answer and how the target answered (a proven conflict: CONFLICT)."""
    response = client.request("POST", "/meeting_rooms", data=data, headers={"Content-Type": content_type})
    client.record_if_created(response, body)  # deleted at the end of the run if anything below fails (and it is this POST's)
    actions.never_5xx(run, response, CREATE, situation)
    if response.status_code >= 400:
        provable = response.status_code == 409 or (response.status_code in (400, 422)
                                                    and not run.model.invalid_value_reasons(body))
        holders = actions.conflict_explained(run, client, None, None, "POST", body, response) if provable else []
        actions.error_body_is_json_object(run, response, CREATE)
        return response, UpdateOutcome.CONFLICT if holders else UpdateOutcome.REJECTED
    created = actions.room_answer(run, "status.documented_codes", response, CREATE, situation)
    sid = created[run.model.ID_FIELD]
    try:
        actions.state_matches(run, RULE, {**created, **body}, created, response, CREATE, f"{situation}: the answer",
                             fields=tuple(body))
        after = actions.read_room(run, client, sid, situation)
        actions.state_matches(run, RULE, {**after, **body}, after, response, CREATE, f"{situation}: read back",
                             fields=tuple(body))
    finally:
        client.delete_if_ours(sid)
    return response, UpdateOutcome.APPLIED


def _update(run, client, sid: str, method: str, body: dict, escaped: bool, content_type: str) -> tuple:
    """GET the room, send the PATCH/PUT bytes, judge the answer with `actions.judge_update` (state under RULE)."""
    before = actions.read_room(run, client, sid, f"room before {method}")
    if method == "PUT":
        body = actions.complete_put_body(run, body, before)
    response = client.request(method, client.room_path(sid), data=_encoded(body, escaped),
                              headers={"Content-Type": content_type})
    return response, actions.judge_update(run, client, sid, before, method, body, response, state_rule=RULE)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("method", METHODS)
def test_json_content_type_forms_are_json(method, content_type, client, rooms, did_groups, run):
    """A valid body with `application/json; charset=utf-8` (and other spellings) is accepted and applied."""
    body = _valid_body(run, rooms)
    situation = f"{method} of a valid body with Content-Type {content_type!r}"
    if method == "POST":
        response, outcome = _post(run, client, body, _encoded(body, True), content_type, situation)
        if outcome is UpdateOutcome.CONFLICT:
            run.recorder.unchecked(RULE, CREATE, "valid POST refused, proven by another room holding a code; not judged")
            return
        with actions.rule(run, RULE, CREATE):
            if outcome is not UpdateOutcome.APPLIED:
                raise actions.violated(run, RULE, f"{situation} was refused with HTTP {response.status_code}",
                                        response=response, judge=actions.answer_judge("accepted"))
        return
    with rooms.fresh(label="ctype") as created:
        if method == "PUT":
            body = {**strategies.simplest_body(run, did_groups), **body}
        response, outcome = _update(run, client, created[run.model.ID_FIELD], method, body, True, content_type)
        if not actions.valid_update_accepted(run, outcome, RULE, method, response):
            run.recorder.unchecked(RULE, room_operation(method), "valid update refused, proven by another room "
                               "holding a code; not judged")


@pytest.mark.parametrize("where", ["name", "property value"])
@pytest.mark.parametrize("text", list(TEXTS), ids=list(TEXTS))
@pytest.mark.parametrize("method", METHODS)
def test_raw_utf8_and_escapes_are_the_same_input(method, text, where, client, rooms, run):
    """The same name (or property value) sent with `\\u` escapes, as raw UTF-8, and as raw UTF-8 with
    `charset=utf-8`: each form gets the same verdict, and an accepted one stores exactly the sent value."""
    value = TEXTS[text]
    props = strategies.forms_field(run)
    if where == "property value" and props is None:
        pytest.skip("the spec has no object of documented value forms to carry a text value")

    def carrying(value: str) -> dict:
        return {NAME_KEY: value} if where == "name" else {props: {strategies.documented_key(run, numeric=False): value}}

    verdicts: dict[str, UpdateOutcome] = {}
    last = None
    operation = CREATE if method == "POST" else room_operation(method)
    for form, content_type, escaped in BODY_FORMS:
        situation = f"{method} of {where} {value!r} as {form} ({content_type})"
        if method == "POST":
            codes = {run.model.UNIQUE[0].array_field: strategies.fresh_access_codes(run, 1)} if run.model.UNIQUE else {}
            body = {**carrying(value), **codes}
            if where != "name" and NAME_KEY in run.model.CREATABLE_FIELDS:
                body[NAME_KEY] = rooms.name("utf8")
            last, verdicts[form] = _post(run, client, body, _encoded(body, escaped), content_type, situation)
        else:
            with rooms.fresh(label="utf8") as created:
                body = carrying(value)
                if method == "PUT":
                    body = strategies.complete_put(run, body, created)
                last, verdicts[form] = _update(run, client, created[run.model.ID_FIELD], method, body, escaped, content_type)
        if verdicts[form] is UpdateOutcome.REJECTED:
            actions.rejection_status(run, "status_invalid_value", last, operation, situation)
    if UpdateOutcome.CONFLICT in verdicts.values():
        run.recorder.unchecked(RULE, operation, "a form was refused, proven by another room holding a code; not judged")
        return
    with actions.rule(run, RULE, operation):
        if len(set(verdicts.values())) > 1:
            raise actions.violated(run, RULE, f"{method} of {where} {value!r}: the same input got different verdicts by form: "
                                    + ", ".join(f"{form}: {verdict.value}" for form, verdict in verdicts.items()),
                                    response=last)
    actions.observe(run, "edge_values", "accepted" if UpdateOutcome.APPLIED in verdicts.values() else "refused", operation)


def _chunked(data: bytes, text: str) -> Chunked:
    """The body in three chunks, the first cut inside the text's first multi-byte character (a server
    must join the chunks before it decodes them)."""
    wide = next((char for char in text if len(char.encode("utf-8")) > 1), None)
    at = data.find(wide.encode("utf-8")) + 1 if wide else len(data) // 3
    return Chunked.of(data, (at, (at + len(data)) // 2))


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_a_chunked_body_is_the_same_input(method, client, rooms, run):
    """A body sent with `Transfer-Encoding: chunked`, cut inside a UTF-8 character, is the same input:
    applied exactly as sent (answer, GET and list), or refused whole (a front proxy may want a length)
    with the room unchanged; never a 5xx. The same text sent with a Content-Length first tells whether
    the target takes it at all; where it does not, the chunked body carries the run's plain name.
    Not judged (recorded as such): an HTTP/1.0 target (a client must not send it chunked bodies), and
    a target that drops the connection of a chunked request but answers other requests."""
    operation = room_operation(method)
    text = TEXTS["latin1-cjk-astral"]
    with rooms.fresh(label="chunked") as created:
        sid = created[run.model.ID_FIELD]
        first = {NAME_KEY: text} if method == "PATCH" else strategies.complete_put(run, {NAME_KEY: text}, created)
        plain, outcome = _update(run, client, sid, method, first, False, "application/json")
        if outcome is UpdateOutcome.REJECTED:
            actions.rejection_status(run, "status_invalid_value", plain, operation, f"{method} of name {text!r}")
        if _http_version(plain) == 10:
            run.recorder.unchecked(RULE, operation, "chunked body not sent: the target answers HTTP/1.0 (RFC 9112: a "
                                   "client must not send it a chunked body)")
            return
        value = f"{text} 2" if outcome is UpdateOutcome.APPLIED else rooms.name("chunked")
        before = actions.read_room(run, client, sid, f"room before a chunked {method}")
        body = {NAME_KEY: value}
        if method == "PUT":
            body = actions.complete_put_body(run, strategies.complete_put(run, body, before), before)
        situation = f"{method} of name {value!r} with Transfer-Encoding: chunked"
        try:
            response = client.request(method, client.room_path(sid), data=_chunked(_encoded(body, False), value),
                                      headers={"Content-Type": "application/json"})
        except TargetUnavailable as error:
            _dropped(run, client, sid, operation, situation, error)  # raises when the target answers nothing at all
            return
        actions.never_5xx(run, response, operation, situation)
        if response.status_code < 400:  # applied (or an answer the contract does not document: judged as such)
            outcome = actions.judge_update(run, client, sid, before, method, body, response, state_rule=RULE,
                                           sent_as="body sent with Transfer-Encoding: chunked")
            if not actions.valid_update_accepted(run, outcome, RULE, method, response):
                return  # a proven conflict (recorded as not judged)
        else:  # refused whole: any 4xx and any body (a proxy's), the room as it was
            after = actions.read_room(run, client, sid, f"{situation}: refused with HTTP {response.status_code}, read back")
            actions.state_matches(run, f"{method.lower()}.rejected_changes_nothing", before, after, response, operation,
                                  f"{situation}: refused with HTTP {response.status_code}")
        actions.observe(run, "chunked_request_body", "accepted" if response.status_code < 300 else "refused", operation,
                        response)


def _http_version(response) -> int | None:
    """The HTTP version of an answer (10, 11), when the transport tells it."""
    return getattr(getattr(response, "raw", None), "version", None)


def _dropped(run, client, sid: str, operation: str, situation: str, error: TargetUnavailable) -> None:
    """A chunked request that ended without an answer (the connection closed, a redirect loop, ...): when
    the target answers a plain GET of the room, only the chunked form could not be tested, and the run
    goes on; when it does not, the target could not be tested at all (the error stands)."""
    run.target.deadline.resume()
    try:
        probe = client.get_room(sid)
    except TargetUnavailable:
        raise error from None
    run.recorder.unchecked(RULE, operation, f"{situation}: no answer ({error.reason[:160]}); the target answers a "
                           f"plain GET (HTTP {probe.status_code}): chunked bodies could not be tested")
