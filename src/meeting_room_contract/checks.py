"""Contract checks: one function per rule, each counted only where it could have failed.

Each check raises `ContractViolation` (an AssertionError) naming a rule of `rules.RULES`, with
the request as a curl command (credentials as environment variables), the answer, and the
expected and observed state. Expected states come from `model`, never from knowledge of the
mock. `judge_update` runs the checks that apply to one PATCH/PUT answer.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from typing import Any, Iterator, Mapping

import jsonschema
import requests

from . import model, rules, spec
from .client import ConferenceClient, curl_command
from .model import PropertiesMode
from .observations import RECORDER
from .redaction import redact, redactor_of
from .rules import UpdateOutcome

GATEWAY_STATUSES = frozenset({502, 503, 504})
ANSWER_RULE = {"PATCH": "patch.response_is_updated_object", "PUT": "put.response_is_updated_object"}
REJECTED_RULE = {"PATCH": "patch.rejected_changes_nothing", "PUT": "put.rejected_changes_nothing"}


class ContractViolation(AssertionError):
    """A broken contract rule, with everything a QA engineer needs to reproduce it."""

    def __init__(self, rule_id: str, summary: str, *, response: requests.Response | None = None,
                 expected: Any = None, observed: Any = None):
        registered = rules.rule(rule_id)
        self.rule, self.summary = rule_id, summary
        self.reproduction = curl_command(response.request) if response is not None else None
        self.answer = f"HTTP {response.status_code} {response.text[:800]}" if response is not None else None
        lines = [f"CONTRACT VIOLATION [{rule_id}] ({registered.kind.value}): {summary}",
                 f"Rule: {registered.summary}"]
        if self.reproduction:
            lines += ["Request (reproduce with):", f"  {self.reproduction}"]
        if self.answer:
            lines.append(f"Answer: {self.answer}")
        if isinstance(expected, Mapping) and isinstance(observed, Mapping) and not set(expected) & set(observed):
            lines += [f"Expected: {_compact(expected)}", f"Observed: {_compact(observed)}"]  # not comparable field by field
        elif expected is not None and observed is not None:
            lines += ["Expected vs observed (- expected, + observed; only what differs):", *field_diff(expected, observed)]
        elif expected is not None or observed is not None:
            lines.append(f"{'Expected' if observed is None else 'Observed'}: {_compact(observed if expected is None else expected)}")
        super().__init__(redact("\n".join(lines), redactor_of(response)))  # the answer may echo a credential


def field_diff(expected: Any, observed: Any, path: str = "") -> list[str]:
    """`- field: expected` / `+ field: observed` lines for the fields that differ (nested dicts by key)."""
    if isinstance(expected, Mapping) and isinstance(observed, Mapping) and (set(expected) & set(observed) or not path):
        lines: list[str] = []
        for key in [*expected, *(k for k in observed if k not in expected)]:
            if expected.get(key, _MISSING) != observed.get(key, _MISSING):
                lines += field_diff(expected.get(key, _MISSING), observed.get(key, _MISSING), f"{path}{key}.")
        return lines
    label = path.rstrip(".") or "(value)"
    return [f"  - {label}: {_compact(expected)}", f"  + {label}: {_compact(observed)}"]


_MISSING = object()  # a key one side does not have


def _compact(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


@contextlib.contextmanager
def rule(rule_id: str, operation: str) -> Iterator[None]:
    """Count one check of `rule_id` on `operation`: passed, or failed with a ContractViolation.

    Use it only around code that raises when the rule is broken: a check counted as passed
    must have been able to fail.
    """
    rules.rule(rule_id)
    try:
        yield
    except ContractViolation as violation:
        RECORDER.checked(violation.rule, operation, False, violation)
        raise
    RECORDER.checked(rule_id, operation, True)


def room_path_label(method: str) -> str:
    return f"{method.upper()} /meeting_rooms/{{sid}}"


@functools.lru_cache(maxsize=None)
def _validator(schema_name: str) -> jsonschema.protocols.Validator:
    schema = spec.resolved_schema(schema_name)
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return validator_cls(schema)


# -- observed behaviours ---------------------------------------------------------------------------

def observe(name: str, alternative: str, operation: str, response: requests.Response | None = None) -> None:
    """Record which allowed alternative the target picked; a pinned behaviour must pick the pin."""
    behaviour = rules.behaviour(name)
    RECORDER.behaviour(name, alternative)
    if name not in rules.PINS:
        return  # nothing to check: every alternative is allowed
    with rule(behaviour.rule, operation):
        if alternative != rules.PINS[name]:
            raise ContractViolation(behaviour.rule, f"{name}: the run pins {rules.PINS[name]!r}, the target chose "
                                    f"{alternative!r} ({behaviour.summary})", response=response)


# -- statuses and bodies ---------------------------------------------------------------------------

def never_5xx(response: requests.Response, operation: str, situation: str) -> None:
    """No 5xx answer; the message tells a gateway page from an application error."""
    with rule("server.never_5xx", operation):
        status = response.status_code
        if status < 500:
            return
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
        retried = getattr(response, "gateway_attempts", 1)
        if status in GATEWAY_STATUSES and not _is_json(response):
            origin = (f"a gateway/proxy page ({content_type}) that persisted over {retried} attempt(s): the "
                      "infrastructure in front of the API, or the API behind it, is down")
        else:
            origin = f"an application error from the API ({content_type})"
        raise ContractViolation("server.never_5xx", f"{situation}: HTTP {status}, {origin}", response=response)


def _is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def status_is(rule_id: str, response: requests.Response, allowed: frozenset[int], operation: str, situation: str) -> None:
    """The status is one of `allowed` (counted under `rule_id`); a 5xx is `server.never_5xx`."""
    never_5xx(response, operation, situation)
    with rule(rule_id, operation):
        if response.status_code not in allowed:
            raise ContractViolation(rule_id, f"{situation}: expected HTTP {' or '.join(map(str, sorted(allowed)))}, "
                                    f"got {response.status_code}", response=response)


def rejection_status(behaviour_name: str, response: requests.Response, operation: str, situation: str) -> None:
    """A refusal uses one of the statuses the contract allows for the situation; records which."""
    behaviour = rules.behaviour(behaviour_name)
    status_is(behaviour.rule, response, frozenset(int(s) for s in behaviour.alternatives), operation, situation)
    observe(behaviour_name, str(response.status_code), operation, response)


def error_body_is_json_object(response: requests.Response, operation: str) -> None:
    """An API error (4xx except 401, which a gateway may answer) carries a JSON object."""
    if response.status_code == 401:
        observe("unauthorized_body", "json" if isinstance(_json_or_none(response), dict) else "not_json", operation, response)
        return
    with rule("status.error_body_is_json", operation):
        data = _json_or_none(response)
        if not isinstance(data, dict):
            raise ContractViolation("status.error_body_is_json", f"HTTP {response.status_code} error body is not a JSON object",
                                    response=response)
    documented_like = set(data) & {"message", "errors"} and isinstance(data.get("errors", []), list)
    observe("error_body_shape", "message_errors" if documented_like else "other_object", operation, response)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def room_answer(rule_id: str, response: requests.Response, operation: str, situation: str) -> dict[str, Any]:
    """A 200 answer (status counted under `rule_id`) whose body is a valid Meeting Room object."""
    status_is(rule_id, response, frozenset({200}), operation, situation)
    return room_schema(response, operation, situation)


def room_schema(response: requests.Response, operation: str, situation: str) -> dict[str, Any]:
    """The body is JSON and a Meeting Room object valid against the spec; returns it."""
    with rule("shape.meeting_room_schema", operation):
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ContractViolation("shape.meeting_room_schema", f"{situation}: Content-Type is {content_type!r}, not JSON",
                                    response=response)
        room = _json_or_none(response)
        errors = sorted(_validator("MeetingRoom").iter_errors(room), key=lambda e: list(e.path))
        if errors:
            details = "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])
            raise ContractViolation("shape.meeting_room_schema", f"{situation}: not a valid MeetingRoom: {details}",
                                    response=response)
    return room


def current_room(client: ConferenceClient, sid: str, rule_id: str, situation: str) -> dict[str, Any]:
    """GET the room under its sid: it must still be there (counted under `rule_id`) and well-formed."""
    return room_answer(rule_id, client.get_room(sid), "GET /meeting_rooms/{sid}", f"{situation}: GET of the room")


def state_matches(rule_id: str, expected: Mapping[str, Any], observed: Mapping[str, Any], response: requests.Response,
                  operation: str, situation: str, *, fields: tuple[str, ...] | None = None) -> None:
    """Every documented field (or `fields`) is as expected; access codes compare as a set."""
    with rule(rule_id, operation):
        diffs = model.differences(expected, observed, fields)
        if diffs:
            raise ContractViolation(rule_id, f"{situation}: " + "; ".join(diffs), response=response,
                                    expected=model.comparable(expected), observed=model.comparable(observed))


# -- PATCH/PUT rules -------------------------------------------------------------------------------

class PropertiesModeTracker:
    """Whether PATCH merges or replaces `properties`: one of the two, the same all run."""

    def __init__(self) -> None:
        self.settled: PropertiesMode | None = None
        self.evidence: str | None = None
        self._lock = threading.Lock()

    @property
    def pinned(self) -> PropertiesMode | None:
        pin = rules.PINS.get("properties_on_patch")
        return PropertiesMode(pin) if pin else None

    def allowed(self) -> list[PropertiesMode]:
        return [self.pinned] if self.pinned else [self.settled] if self.settled else list(PropertiesMode)

    def settle(self, mode: PropertiesMode, response: requests.Response, operation: str) -> None:
        with self._lock:
            if self.settled is None:
                self.settled, self.evidence = mode, curl_command(response.request)
        observe("properties_on_patch", mode.value, operation, response)


def patch_partial_update(before: Mapping[str, Any], body: Mapping[str, Any], after: Mapping[str, Any],
                         response: requests.Response, rule_id: str = "patch.partial_update") -> None:
    """Sent fields are set (every sent key of an `x-patch: merge-or-replace` object has the sent
    value, merge or replace), every other field keeps its value."""
    expected = model.apply_patch(before, body, PropertiesMode.REPLACE)
    nested = [f for f in model.MERGE_OR_REPLACE_FIELDS if f in body and isinstance(body[f], dict)]
    fields = tuple(f for f in model.DOCUMENTED_FIELDS if f not in nested)
    with rule(rule_id, room_path_label("PATCH")):
        diffs = model.differences(expected, after, fields)
        for field in nested:
            observed = after.get(field) if isinstance(after.get(field), dict) else {}
            diffs += [f"{field}.{key}: expected {value!r}, observed {observed.get(key, '(absent)')!r}"
                      for key, value in body[field].items() if observed.get(key) != value]
        if diffs:
            raise ContractViolation(rule_id, "accepted PATCH, room read back: " + "; ".join(diffs), response=response,
                                    expected=model.comparable(expected), observed=model.comparable(after))


def patch_properties(before: Mapping[str, Any], body: Mapping[str, Any], after: Mapping[str, Any],
                     response: requests.Response, tracker: PropertiesModeTracker) -> None:
    """In each sent `x-patch: merge-or-replace` object, the old keys that were not sent are all
    kept (merge) or all gone (replace): the mode pinned, else the one seen all run. (The sent
    keys are `patch_partial_update`'s.)"""
    for field in model.MERGE_OR_REPLACE_FIELDS:
        if field in body and isinstance(body[field], dict):
            _merge_or_replace(field, before, body, after, response, tracker)


def _merge_or_replace(field: str, before: Mapping[str, Any], body: Mapping[str, Any], after: Mapping[str, Any],
                      response: requests.Response, tracker: PropertiesModeTracker) -> None:
    operation = room_path_label("PATCH")
    candidates = {mode: model.apply_patch(before, body, mode)[field] for mode in PropertiesMode}
    allowed = tracker.allowed()
    with rule("patch.properties_merge_or_replace", operation):
        matching = [mode for mode in PropertiesMode if candidates[mode] == after.get(field)]
        if not any(mode in allowed for mode in matching):
            if matching:
                detail = (f"PATCH {matching[0].value}d `{field}`, but {allowed[0].value} is "
                          + ("pinned" if tracker.pinned else f"what the target did earlier in the run ({tracker.evidence})"))
            else:
                detail = f"`{field}` is neither the merge nor the replacement of the old and the sent objects"
            raise ContractViolation("patch.properties_merge_or_replace", detail, response=response,
                                    expected={mode.value: candidates[mode] for mode in allowed},
                                    observed=after.get(field))
    if len(matching) == 1:  # merge and replace predict different states: this answer tells them apart
        tracker.settle(matching[0], response, operation)


def put_full_replacement(before: Mapping[str, Any], body: Mapping[str, Any], after: Mapping[str, Any],
                         response: requests.Response, rule_id: str = "put.full_replacement") -> None:
    """Every modifiable field is exactly the body's value; read-only fields unchanged."""
    state_matches(rule_id, model.apply_put(before, body), after, response, room_path_label("PUT"),
                  "accepted PUT, room read back")


def response_is_updated_object(method: str, answered: Mapping[str, Any], after: Mapping[str, Any],
                               response: requests.Response) -> None:
    """The answer of an accepted update is the full updated object, the state a GET reads back."""
    state_matches(ANSWER_RULE[method], after, answered, response, room_path_label(method),
                  f"the {method} answer differs from the room read back")


def read_only_never_applied(client: ConferenceClient, sid: str, before: Mapping[str, Any], method: str, body: Mapping[str, Any],
                            answered: Mapping[str, Any] | None, response: requests.Response) -> dict[str, Any]:
    """After an accepted body with different read-only values the room is where it was, unchanged
    in its read-only fields (answer and GET). A sid the server re-keyed our room to is reported, never deleted."""
    operation = room_path_label(method)
    attempted = model.read_only_changes(body, before)
    moved_to = (answered or {}).get(model.ID_FIELD)
    if isinstance(moved_to, str) and moved_to != sid:  # never adopted: a sid from an answer may name anyone's room
        client.registry.report_foreign(moved_to, f"was named by the server's answer to {method} of our room {sid} (re-keyed?)")
    read_back = client.get_room(sid)
    with rule("read_only.never_applied", operation):
        if read_back.status_code == 404:
            raise ContractViolation("read_only.never_applied", f"after an accepted {method} with {attempted} the room is "
                                    f"no longer found under its sid {sid}", response=response, observed=answered)
        for label, room in (("answer", answered), ("room read back", _json_or_none(read_back))):
            if not isinstance(room, dict):
                continue
            changed = {f: room.get(f) for f in model.READ_ONLY_FIELDS if room.get(f) != before.get(f)}
            if changed:
                raise ContractViolation("read_only.never_applied", f"accepted {method} applied read-only value(s) "
                                        f"({label})", response=response, expected={f: before.get(f) for f in changed},
                                        observed=changed)
    observe("read_only_values", "ignored", operation, response)
    return room_answer("status.documented_codes", read_back, "GET /meeting_rooms/{sid}", f"room after accepted {method}")


def unknown_fields_not_stored(method: str, body: Mapping[str, Any], rooms_seen: list[Mapping[str, Any]],
                              response: requests.Response) -> None:
    """An unknown field that was accepted is neither stored nor returned (only judged when one was sent)."""
    unknown = model.unknown_fields(body)
    if not unknown:
        return
    operation = room_path_label(method)
    with rule("bad_input.unknown_field", operation):
        for room in rooms_seen:
            leaked = [name for name in unknown if name in room]
            if leaked:
                raise ContractViolation("bad_input.unknown_field", f"unknown field(s) {leaked} were stored and returned",
                                        response=response, observed={name: room[name] for name in leaked})
    observe("unknown_fields", "ignored", operation, response)


def invalid_input_refused(method: str, body: Any, response: requests.Response) -> None:
    """An accepted body must satisfy the value rules (only judged when it does not)."""
    reasons = model.invalid_value_reasons(body) if isinstance(body, dict) else ["the body is not a JSON object"]
    duplicates = model.body_duplicates(body)
    if duplicates and not reasons:
        with rule("uniqueness.within_room", room_path_label(method)):
            raise ContractViolation("uniqueness.within_room", f"{method} repeating access code(s) {sorted(duplicates)} "
                                    "in one body was accepted", response=response)
    if reasons:
        with rule("bad_input.rejected", room_path_label(method)):
            raise ContractViolation("bad_input.rejected", f"{method} with invalid input was accepted: {'; '.join(reasons)}",
                                    response=response)


KNOWN_DID_GROUPS: set[str] = set()  # the account's DID groups, read from the target (`did_groups` fixture)


def did_group_is_known(method: str, body: Any, response: requests.Response) -> None:
    """An accepted value of a field the spec marks `x-references` names a resource of the account
    (judged when one was sent and the account's resources were read). An account with none: the
    value cannot be judged here, which is recorded as not checked (never counted as passed);
    `test_negative`'s unknown-DID-group cases still judge it."""
    if not isinstance(body, dict):
        return
    for reference in model.REFERENCES:
        sent = body.get(reference.field)
        if not isinstance(sent, str):
            continue
        if not KNOWN_DID_GROUPS:
            RECORDER.unchecked("bad_input.rejected", room_path_label(method), f"accepted `{reference.field}` not judged: "
                               f"no {reference.resource} of the account known (none listed)")
            continue
        with rule("bad_input.rejected", room_path_label(method)):
            if sent not in KNOWN_DID_GROUPS:
                raise ContractViolation("bad_input.rejected", f"{method} with `{reference.field}` {sent!r}, which names "
                                        f"nothing in {reference.resource} of the account, was accepted", response=response)


def put_fields_required(body: Mapping[str, Any], response: requests.Response) -> None:
    """An accepted PUT carried every modifiable field (only judged when one was missing)."""
    missing = model.missing_put_fields(body)
    if missing:
        with rule("put.all_fields_required", room_path_label("PUT")):
            raise ContractViolation("put.all_fields_required", f"PUT without {missing} was accepted", response=response)


def rejected_changes_nothing(client: ConferenceClient, sid: str, before: Mapping[str, Any], method: str,
                             response: requests.Response) -> None:
    """After a 4xx the room is exactly as before."""
    rule_id = REJECTED_RULE[method]
    after = current_room(client, sid, rule_id, f"rejected {method}")
    state_matches(rule_id, before, after, response, room_path_label(method),
                  f"{method} was refused with {response.status_code} but the room changed")


# -- conflicts (409) -------------------------------------------------------------------------------

def conflicting_rooms(client: ConferenceClient, candidate: Mapping[str, Any], exclude_sid: str | None) -> list[dict[str, Any]]:
    """Rooms of the account, other than `exclude_sid`, holding an `x-unique` value (a code) of
    `candidate`, in any scope (e.g. any DID group)."""
    holders = []
    for unique in model.UNIQUE:
        codes = model.unique_values(candidate, unique)
        if not codes:
            continue
        for room in client.list_all("/meeting_rooms"):
            if room.get(model.ID_FIELD) == exclude_sid:
                continue
            shared = codes & model.unique_values(room, unique)
            if shared:
                holders.append({"room": room.get(model.ID_FIELD), "scope": model.scope_of(room, unique),
                                "same_scope": model.scope_of(room, unique) == model.scope_of(candidate, unique),
                                "codes": sorted(shared, key=repr)})
    return holders


def candidate_state(before: Mapping[str, Any] | None, method: str, body: Any) -> dict[str, Any] | None:
    """The room the body asks for (None when the body cannot describe one)."""
    if not isinstance(body, dict):
        return None
    if before is None or method.upper() == "POST":
        return model.candidate(body)
    if method.upper() == "PUT" and not model.missing_put_fields(body):
        return model.apply_put(before, body)
    return model.apply_patch(before, body, PropertiesMode.REPLACE)


def codes_set_by(before: Mapping[str, Any] | None, method: str, body: Any, candidate: Mapping[str, Any]) -> set[Any]:
    """The `x-unique` values (codes) the request puts into their scope: every code of the state asked
    for by a POST, a full PUT or a PATCH that changes a scope field (it moves the room's codes into
    another DID group); for any other PATCH the codes of its arrays, not the codes the room keeps
    untouched."""
    if before is None or method.upper() == "POST" or (method.upper() == "PUT" and not model.missing_put_fields(body)):
        return model.unique_values(candidate)
    if any(f in body and body[f] != before.get(f) for unique in model.UNIQUE for f in unique.scope
           if f in model.MODIFIABLE_FIELDS):
        return model.unique_values(candidate)
    return model.unique_values({unique.array_field: body[unique.array_field] for unique in model.UNIQUE
                                if unique.array_field in body})


def codes_across_scopes() -> str | None:
    """Whether the target refuses a code held in another DID group: "refused" or "shared" as
    pinned, else as observed this run ("shared" wins: a target seen to share cannot blame another
    group); None while not known."""
    pinned = rules.PINS.get("codes_across_did_groups")
    if pinned:
        return pinned
    seen = RECORDER.behaviours.get("codes_across_did_groups") or {}
    return "shared" if "shared" in seen else "refused" if "refused" in seen else None


def explaining_holders(holders: list[dict[str, Any]], before: Mapping[str, Any] | None, method: str, body: Any,
                       candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The holders that prove a refusal: rooms in the request's uniqueness scope.

    * same DID group (or any group on a target known to refuse codes across groups): any code of
      the state asked for (a room already sharing a code in its scope, e.g. after another tester's
      race, is a state the target may refuse to store again);
    * another DID group while the target's choice is not known yet: only a code the request sets
      (the refusal is then the evidence that the target refuses across groups);
    * another DID group on a target known to let groups share codes: never.
    """
    across = codes_across_scopes()
    claimed = codes_set_by(before, method, body, candidate)
    proven = []
    for holder in holders:
        if holder.get("same_scope") or across == "refused":
            proven.append(holder)
        elif across is None:
            codes = [code for code in holder["codes"] if code in claimed]
            if codes:
                proven.append({**holder, "codes": codes})
    return proven


def conflict_explained(client: ConferenceClient, sid: str | None, before: Mapping[str, Any] | None, method: str, body: Any,
                       response: requests.Response) -> list[dict[str, Any]]:
    """Is a refusal explained by codes another room of the account holds? A 409 must be.

    Returns the rooms that explain it (empty: not a conflict; `explaining_holders` says which
    rooms count). A 409 that no room explains is a violation: a valid request was refused. The
    codes found in any room are remembered as taken.
    """
    from .strategies import CODES_IN_USE  # the codes the generators avoid

    operation = room_path_label(method) if sid else f"{method.upper()} /meeting_rooms"
    candidate = candidate_state(before, method, body)
    in_body = model.body_duplicates(candidate) if candidate else set()
    holders = conflicting_rooms(client, candidate, sid) if candidate else []
    for holder in holders:
        CODES_IN_USE.update(holder["codes"])
    holders = explaining_holders(holders, before, method, body, candidate) if candidate else []
    if response.status_code != 409:
        return holders
    with rule("uniqueness.conflict_explained", operation):
        if not holders and not in_body:
            raise ContractViolation("uniqueness.conflict_explained", f"{method} answered 409 (conflict), but no room of the "
                                    "account in the request's uniqueness scope holds one of the access codes it asks for, "
                                    "and none repeats in the body: a valid request was refused", response=response,
                                    observed={rule_.array_field: (candidate or {}).get(rule_.array_field) for rule_ in model.UNIQUE})
    return holders or [{"room": sid, "codes": sorted(in_body), "in_body": True}]


def _observe_code_sharing(holders: list[dict[str, Any]], candidate: Mapping[str, Any] | None, operation: str,
                          response: requests.Response) -> None:
    others = [h for h in holders if not h.get("in_body")]
    if candidate and others and not any(h.get("same_scope") for h in others):
        observe("codes_across_did_groups", "refused", operation, response)


# -- the judge of one PATCH/PUT answer -------------------------------------------------------------

def judge_update(client: ConferenceClient, sid: str, before: Mapping[str, Any], method: str, body: Any,
                 response: requests.Response, tracker: PropertiesModeTracker, *,
                 state_rule: str | None = None) -> UpdateOutcome:
    """Run every check that applies to this PATCH/PUT answer; returns how the target answered.

    * 5xx: a violation (gateway errors were already retried by the client).
    * 4xx: a JSON error and nothing changed; a 409 must be explained by a room holding a code.
    * 2xx: the body was acceptable, the answer is a valid room equal to the room read back,
      read-only values were not applied, and the state is what PATCH/PUT semantics predict.

    `state_rule` names the rule the state comparisons count under when a test is about something
    more specific than PATCH/PUT semantics (the round trip of unusual values).
    """
    method = method.upper()
    operation = room_path_label(method)
    never_5xx(response, operation, f"{method} of a room")
    if response.status_code >= 400:
        provable = response.status_code == 409 or (response.status_code in (400, 422) and isinstance(body, dict)
                                                    and not model.invalid_value_reasons(body))
        holders = conflict_explained(client, sid, before, method, body, response) if provable else []
        error_body_is_json_object(response, operation)
        rejected_changes_nothing(client, sid, before, method, response)
        if holders:
            _observe_code_sharing(holders, candidate_state(before, method, body), operation, response)
            return UpdateOutcome.CONFLICT
        return UpdateOutcome.REJECTED
    status_is("status.documented_codes", response, frozenset({200}), operation, f"accepted {method}")
    invalid_input_refused(method, body, response)
    did_group_is_known(method, body, response)
    if method == "PUT":
        put_fields_required(body, response)
    answered = room_schema(response, operation, f"{method} answer")
    if model.read_only_changes(body, before):
        after = read_only_never_applied(client, sid, before, method, body, answered, response)
    else:
        after = current_room(client, sid, "status.documented_codes", f"accepted {method}")
    if method == "PATCH":
        patch_partial_update(before, body, after, response, state_rule or "patch.partial_update")
        if any(field in body for field in model.MERGE_OR_REPLACE_FIELDS):
            patch_properties(before, body, after, response, tracker)
    else:
        put_full_replacement(before, body, after, response, state_rule or "put.full_replacement")
    response_is_updated_object(method, answered, after, response)
    unknown_fields_not_stored(method, body, [answered, after], response)
    return UpdateOutcome.APPLIED


def send_update(client: ConferenceClient, sid: str, method: str, body: Any, tracker: PropertiesModeTracker,
                *, complete_put: bool = True, state_rule: str | None = None
                ) -> tuple[dict[str, Any], requests.Response, UpdateOutcome]:
    """GET the room, send the PATCH/PUT, judge the answer with `judge_update`.

    A PUT body gets the current read-only values when the target requires them (`puts.CURRENT`).
    """
    from . import puts

    before = current_room(client, sid, "status.documented_codes", f"room before {method.upper()}")
    if method.upper() == "PUT" and complete_put:
        body = puts.CURRENT.complete(body, before)
    response = client.request(method, client.room_path(sid), json_body=body)
    return before, response, judge_update(client, sid, before, method, body, response, tracker, state_rule=state_rule)


# -- verdicts the tests ask for --------------------------------------------------------------------

def valid_update_accepted(outcome: UpdateOutcome, rule_id: str, method: str, response: requests.Response) -> bool:
    """A body the contract calls valid was applied. Returns False for a proven conflict (another
    room really holds a code): the example says nothing about `rule_id`, and the caller must
    not count it (hypothesis tests `reject()` it)."""
    if outcome is UpdateOutcome.CONFLICT:
        return False
    with rule(rule_id, room_path_label(method)):
        if outcome is not UpdateOutcome.APPLIED:
            raise ContractViolation(rule_id, f"a valid {method.upper()} was refused with HTTP {response.status_code}",
                                    response=response)
    return True


def update_refused(outcome: UpdateOutcome, behaviour_name: str, method: str, response: requests.Response,
                   situation: str) -> None:
    """An invalid body was refused with a status the contract allows (nothing changed: `judge_update`)."""
    behaviour = rules.behaviour(behaviour_name)
    with rule(behaviour.rule, room_path_label(method)):
        if outcome is UpdateOutcome.APPLIED:
            raise ContractViolation(behaviour.rule, f"{situation}: accepted, must be refused", response=response)
    rejection_status(behaviour_name, response, room_path_label(method), situation)
