"""Contract checks, one function per rule they guard.

Each check raises `ContractViolation` (an AssertionError) with the rule, the request as a curl
command (credentials as environment variables), and the expected and observed state. The
expected state always comes from `model`, never from knowledge of the mock.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from typing import Any, Iterator, Mapping

import jsonschema
import requests

from . import model, spec
from .client import ConferenceClient, curl_command
from .model import PropertiesMode
from .observations import RECORDER
from .redaction import redact


class ContractViolation(AssertionError):
    """A broken contract rule, with everything a QA engineer needs to reproduce it."""

    def __init__(self, rule: str, summary: str, *, response: requests.Response | None = None,
                 expected: Any = None, observed: Any = None):
        self.rule, self.summary = rule, summary
        self.reproduction = curl_command(response.request) if response is not None else None
        lines = [f"CONTRACT VIOLATION [{rule}]: {summary}"]
        if self.reproduction:
            lines += ["Request (reproduce with):", f"  {self.reproduction}"]
        if response is not None:
            lines.append(f"Answer: HTTP {response.status_code} {response.text[:800]}")
        if expected is not None:
            lines += ["Expected:", _pretty(expected)]
        if observed is not None:
            lines += ["Observed:", _pretty(observed)]
        super().__init__(redact("\n".join(lines)))


def _pretty(value: Any) -> str:
    try:
        return "  " + json.dumps(value, indent=2, ensure_ascii=False, default=str).replace("\n", "\n  ")
    except TypeError:
        return f"  {value!r}"


@contextlib.contextmanager
def rule(name: str, operation: str) -> Iterator[None]:
    """Count one check of `name` on `operation` in the run's summary, passed or failed."""
    try:
        yield
    except ContractViolation as violation:
        RECORDER.checked(name, operation, False, violation)
        raise
    RECORDER.checked(name, operation, True)


@functools.lru_cache(maxsize=None)
def _validator(schema_name: str) -> jsonschema.protocols.Validator:
    schema = spec.resolved_schema(schema_name)
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return validator_cls(schema)


# -- statuses and bodies -------------------------------------------------------------------------

def status_is_allowed(rule_name: str, response: requests.Response, allowed: frozenset[int], situation: str) -> None:
    """The status is one the contract allows for this situation; never a 5xx."""
    status = response.status_code
    if status >= 500:
        raise ContractViolation("bad_input.never_5xx", f"{situation}: server error {status}; client input must never cause 5xx",
                                response=response)
    if status not in allowed:
        raise ContractViolation(rule_name, f"{situation}: expected HTTP {' or '.join(map(str, sorted(allowed)))}, got {status}",
                                response=response)


def error_body_is_json_object(response: requests.Response) -> None:
    """A 4xx answer carries a JSON object (its exact shape is not documented)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ContractViolation("status.error_body_is_json", f"HTTP {response.status_code} error body is not a JSON object",
                                response=response)


def room_response(rule_name: str, response: requests.Response, situation: str) -> dict[str, Any]:
    """A 200 answer whose body is a Meeting Room object valid against the spec; returns it."""
    status_is_allowed(rule_name, response, model.OK, situation)
    content_type = response.headers.get("Content-Type", "")
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise ContractViolation("shape.meeting_room_schema", f"{situation}: Content-Type is {content_type!r}, not JSON",
                                response=response)
    try:
        room = response.json()
    except ValueError:
        raise ContractViolation("shape.meeting_room_schema", f"{situation}: body is not JSON", response=response) from None
    errors = sorted(_validator("MeetingRoom").iter_errors(room), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5])
        raise ContractViolation("shape.meeting_room_schema", f"{situation}: response violates the MeetingRoom schema: {details}",
                                response=response)
    return room


def current_room(client: ConferenceClient, sid: str, rule_name: str, situation: str) -> dict[str, Any]:
    """GET the room under its original sid; it must still be there and well-formed."""
    return room_response(rule_name, client.get_room(sid), f"{situation}: GET of the room afterwards")


# -- state comparisons ---------------------------------------------------------------------------

def state_matches(rule_name: str, expected: Mapping[str, Any], observed: Mapping[str, Any],
                  response: requests.Response, situation: str) -> None:
    """Every documented field is as expected (access codes compared as a set of (code, role))."""
    diffs = model.differences(expected, observed)
    if diffs:
        raise ContractViolation(rule_name, f"{situation}: " + "; ".join(diffs), response=response,
                                expected=model.comparable(expected), observed=model.comparable(observed))


def unknown_fields_not_returned(body: Any, room: Mapping[str, Any], response: requests.Response) -> None:
    """An unknown field sent in a body is never stored or returned."""
    if not isinstance(body, dict):
        return
    leaked = [name for name in model.unknown_fields(body) if name in room]
    if leaked:
        raise ContractViolation("bad_input.unknown_field", f"unknown field(s) {leaked} were stored and returned",
                                response=response, observed={name: room[name] for name in leaked})


class PropertiesModeTracker:
    """Whether PATCH merges or replaces `properties`: one of the two, the same all run."""

    def __init__(self, pinned: PropertiesMode | None = None):
        self.pinned = pinned
        self.settled: PropertiesMode | None = pinned
        self.evidence: str | None = "pinned by --properties-mode" if pinned else None
        self._lock = threading.Lock()

    def judge(self, matching: set[PropertiesMode], response: requests.Response, before: Mapping[str, Any],
              body: Mapping[str, Any], observed: Mapping[str, Any]) -> None:
        if len(matching) != 1:
            return  # both rules predict the same state: no evidence either way
        (mode,) = matching
        with self._lock:
            if self.settled is None:
                self.settled, self.evidence = mode, curl_command(response.request)
                RECORDER.behaviour("properties_on_patch", mode.value)
                return
            settled, evidence = self.settled, self.evidence
        if mode is not settled:
            raise ContractViolation(
                "patch.properties_merge_or_replace",
                f"PATCH {mode.value}d `properties` here, but {settled.value}d them earlier in the run "
                f"({evidence}); the server must use one rule throughout",
                response=response, expected=model.apply_patch(before, body, settled)["properties"],
                observed=observed.get("properties"))
        RECORDER.behaviour("properties_on_patch", mode.value)


# -- updates -------------------------------------------------------------------------------------

def update_outcome(client: ConferenceClient, sid: str, before: Mapping[str, Any], method: str, body: Any,
                   response: requests.Response, tracker: PropertiesModeTracker) -> str:
    """Judge any PATCH/PUT answer against the model; returns 'applied', 'rejected' or 'conflict'.

    * 2xx: the response and a following GET show exactly the model's state for the body
      (PATCH: sent fields set, others kept, properties merged or replaced; PUT: all replaced);
      read-only values are never applied and unknown fields never returned.
    * 4xx: a JSON error, and nothing changed.
    * 5xx: always a violation.
    """
    method = method.upper()
    op = f"{method} /meeting_rooms/{{sid}}"
    rejected_rule = f"{method.lower()}.rejected_changes_nothing"
    read_only_attempt = isinstance(body, dict) and bool(model.read_only_changes(body, before))
    if response.status_code >= 500:
        with rule("bad_input.never_5xx", op):
            status_is_allowed("bad_input.never_5xx", response, frozenset(), f"{method} of a room")
    if 400 <= response.status_code < 500:
        with rule("status.error_body_is_json", op):
            error_body_is_json_object(response)
        with rule(rejected_rule, op):
            after = current_room(client, sid, rejected_rule, f"rejected {method}")
            state_matches(rejected_rule, before, after, response, f"{method} was rejected with "
                          f"{response.status_code} but the room changed")
        if read_only_attempt and response.status_code in model.READ_ONLY_REJECTION:
            RECORDER.behaviour("read_only_on_" + method.lower(), model.ReadOnlyHandling.REJECTED.value)
        return "conflict" if response.status_code == 409 else "rejected"

    if not isinstance(body, dict) or model.invalid_value_reasons(body):
        reasons = model.invalid_value_reasons(body) if isinstance(body, dict) else ["the body is not a JSON object"]
        with rule("bad_input.rejected", op):
            raise ContractViolation("bad_input.rejected", f"{method} with invalid input was accepted: {'; '.join(reasons)}",
                                    response=response)
    if method == "PUT" and model.missing_put_fields(body):
        with rule("put.all_fields_required", op):
            raise ContractViolation("put.all_fields_required", f"PUT without {model.missing_put_fields(body)} was accepted",
                                    response=response)
    state_rule = "patch.partial_update" if method == "PATCH" else "put.full_replacement"
    answer_rule = f"{method.lower()}.response_is_updated_object"
    if read_only_attempt:
        state_rule = answer_rule = "read_only.never_applied"
    with rule("shape.meeting_room_schema", op):
        answered = room_response("status.documented_codes", response, f"{method} of a room")
    with rule(state_rule, op):
        after = current_room(client, sid, state_rule, f"accepted {method}")
    if method == "PUT":
        expected = model.apply_put(before, body)
    else:
        candidates = {mode: model.apply_patch(before, body, mode) for mode in PropertiesMode}
        matching = {mode for mode, state in candidates.items() if not model.differences(state, after)}
        if not matching:
            allowed = [tracker.pinned] if tracker.pinned else list(PropertiesMode)
            expected = candidates[tracker.settled or allowed[0]]
            only_properties = all(not model.differences({**state, "properties": after.get("properties")}, after)
                                  for state in candidates.values())
            failing_rule = "patch.properties_merge_or_replace" if only_properties and "properties" in body else state_rule
            with rule(failing_rule, op):
                detail = ("`properties` is neither the merge nor the replacement of the old and sent objects"
                          if failing_rule != state_rule else "the room is not the old room with exactly the sent fields changed")
                raise ContractViolation(failing_rule, f"accepted PATCH: {detail}", response=response,
                                        expected={m.value: model.comparable(s) for m, s in candidates.items() if m in allowed},
                                        observed=model.comparable(after))
        if tracker.pinned and tracker.pinned not in matching:
            with rule("patch.properties_merge_or_replace", op):
                raise ContractViolation("patch.properties_merge_or_replace",
                                        f"PATCH {next(iter(matching)).value}d `properties`; the run pins {tracker.pinned.value}",
                                        response=response, expected=candidates[tracker.pinned]["properties"],
                                        observed=after.get("properties"))
        if isinstance(body, dict) and "properties" in body:
            with rule("patch.properties_merge_or_replace", op):
                tracker.judge(matching, response, before, body, after)
        expected = candidates[next(iter(matching))]
    with rule(state_rule, op):
        state_matches(state_rule, expected, after, response, f"accepted {method}, room read back")
    with rule(answer_rule, op):
        state_matches(answer_rule, expected, answered, response, f"accepted {method}, the answer's object")
    with rule("bad_input.unknown_field", op):
        unknown_fields_not_returned(body, answered, response)
        unknown_fields_not_returned(body, after, response)
    if read_only_attempt:
        RECORDER.behaviour("read_only_on_" + method.lower(), model.ReadOnlyHandling.IGNORED.value)
    return "applied"


def room_path_label(method: str) -> str:
    return f"{method.upper()} /meeting_rooms/{{sid}}"


def valid_update_accepted(outcome: str, rule_name: str, method: str, response: requests.Response) -> None:
    """A body the contract calls valid was applied (a 409 is handled by the caller)."""
    with rule(rule_name, room_path_label(method)):
        if outcome != "applied":
            raise ContractViolation(rule_name, f"a valid {method.upper()} was refused with HTTP {response.status_code}",
                                    response=response)


def update_rejected(outcome: str, rule_name: str, method: str, response: requests.Response,
                    allowed: frozenset[int], situation: str) -> None:
    """An invalid body was refused with one of the allowed statuses (nothing changed: see update_outcome)."""
    with rule(rule_name, room_path_label(method)):
        if outcome == "applied":
            raise ContractViolation(rule_name, f"{situation}: accepted, must be refused", response=response)
        status_is_allowed(rule_name, response, allowed, situation)


def send_update(client: ConferenceClient, sid: str, method: str, body: Any,
                tracker: PropertiesModeTracker) -> tuple[dict[str, Any], requests.Response, str]:
    """GET the room, send the PATCH/PUT, judge the answer with `update_outcome`.

    Returns the state before, the answer and the outcome ('applied', 'rejected', 'conflict').
    """
    before = current_room(client, sid, "status.documented_codes", f"room before {method.upper()}")
    response = client.request(method, client.room_path(sid), json_body=body)
    return before, response, update_outcome(client, sid, before, method, body, response, tracker)
