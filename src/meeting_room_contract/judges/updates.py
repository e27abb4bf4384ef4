"""Judges of one PATCH/PUT: given what was sent, the room before, the answer and the room after
(read by sid and as its item in the account's list), the failures of each rule that applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..model import PropertiesMode
from ..rules import UpdateOutcome
from . import answers, conflicts
from .base import Answer, Failure, Verdict, judge, json_or_none
from .context import Context

ANSWER_RULE = {"PATCH": "patch.response_is_updated_object", "PUT": "put.response_is_updated_object"}
REJECTED_RULE = {"PATCH": "patch.rejected_changes_nothing", "PUT": "put.rejected_changes_nothing"}
LIST_OPERATION = "GET /meeting_rooms"
LIST_NOT_READ = object()  # the list read path was not read for this exchange


def room_operation(method: str) -> str:
    return f"{method.upper()} /meeting_rooms/{{sid}}"


@dataclass(frozen=True)
class UpdateEvidence:
    """Everything one PATCH/PUT left behind; gathered by the actions layer, judged here."""

    method: str
    body: Any
    before: Mapping[str, Any]
    answer: Answer
    after_answer: Answer | None = None  # GET of the room by sid after the update
    listed: Any = LIST_NOT_READ  # the room's item in the account's list (None: not listed)
    holders: list[dict[str, Any]] | None = None  # rooms of the account holding a code of the request (None: not looked up)
    state_rule: str | None = None  # the rule state comparisons count under (e.g. round_trip.exact_values)

    @property
    def operation(self) -> str:
        return room_operation(self.method)

    @property
    def after(self) -> dict[str, Any] | None:
        if self.after_answer is None or self.after_answer.status_code != 200:
            return None
        room = json_or_none(self.after_answer)
        return room if isinstance(room, dict) else None


@dataclass
class UpdateJudgement:
    verdict: Verdict = field(default_factory=Verdict)
    outcome: UpdateOutcome = UpdateOutcome.REJECTED
    holders: list[dict[str, Any]] = field(default_factory=list)
    after: dict[str, Any] | None = None
    properties_mode: PropertiesMode | None = None  # what this answer proved PATCH does with `properties`


def needs_conflict_lookup(context: Context, evidence: UpdateEvidence) -> bool:
    """A refusal that another room's codes could explain: a 409, or 400/422 to an otherwise valid body."""
    status, body = evidence.answer.status_code, evidence.body
    return status == 409 or (status in (400, 422) and isinstance(body, dict)
                             and not context.model.invalid_value_reasons(body))


def judge_update(context: Context, evidence: UpdateEvidence) -> UpdateJudgement:
    """Every check that applies to this PATCH/PUT answer, in the order a reader wants them; the
    first failing check ends the judgement (later checks are not counted).

    * 5xx: a violation (gateway errors were already retried by the client).
    * 4xx: a JSON error and nothing changed; a 409 must be explained by a room holding a code.
    * 2xx: the body was acceptable, the answer is a valid room equal to the room read back,
      read-only values were not applied, the state is what PATCH/PUT semantics predict, and the
      room's item in the account's list is the room read by sid.
    """
    result = UpdateJudgement()
    verdict, method, operation = result.verdict, evidence.method.upper(), evidence.operation
    answer = evidence.answer
    if verdict.add("server.never_5xx", operation, answers.never_5xx(answer, operation, f"{method} of a room")):
        return result
    if answer.status_code >= 400:
        _judge_refusal(context, evidence, result)
        return result
    steps = [
        ("status.documented_codes", lambda: answers.status_in("status.documented_codes", answer, frozenset({200}), operation,
                                                               f"accepted {method}" if answer.status_code < 300
                                                               else f"{method} answered with a redirect (not followed)")),
        *invalid_input_steps(context, evidence),
        ("shape.meeting_room_schema", lambda: answers.room_shape(context, answer, operation, f"{method} answer")),
    ]
    if _run_steps(verdict, operation, steps):
        return result
    answered = json_or_none(answer)
    after_rule = "read_only.never_applied" if context.model.read_only_changes(evidence.body, evidence.before) \
        else "status.documented_codes"
    if _run_steps(verdict, operation, [(after_rule, lambda: read_back_found(evidence, after_rule))]):
        return result
    if after_rule == "read_only.never_applied":
        if _run_steps(verdict, operation, [("read_only.never_applied", lambda: read_only_never_applied(context, evidence))]):
            return result
        answers.observe(verdict, context, "read_only_values", "ignored", operation)
    if _run_steps(verdict, "GET /meeting_rooms/{sid}", [("shape.meeting_room_schema", lambda: answers.room_shape(
            context, evidence.after_answer, "GET /meeting_rooms/{sid}", f"room after accepted {method}"))]):
        return result
    after = evidence.after
    result.after = after
    if method == "PATCH":
        state_rule = evidence.state_rule or "patch.partial_update"
        steps = [(state_rule, lambda: patch_partial_update(context, evidence.before, evidence.body, after, state_rule))]
        if any(f in evidence.body and isinstance(evidence.body[f], dict) for f in context.model.MERGE_OR_REPLACE_FIELDS):
            steps.append(("patch.properties_merge_or_replace", lambda: _properties(context, evidence, after, result)))
    else:
        state_rule = evidence.state_rule or "put.full_replacement"
        steps = [(state_rule, lambda: put_full_replacement(context, evidence.before, evidence.body, after, state_rule))]
    steps.append((ANSWER_RULE[method], lambda: response_is_updated_object(context, method, answered, after)))
    if (_run_steps(verdict, operation, steps)
            or _run_steps(verdict, LIST_OPERATION, [("read_paths.list_matches_get",  # counted where its failure is
                                                     lambda: list_matches_get(context, evidence.listed, after, operation))])
            or _run_steps(verdict, operation, [("bad_input.unknown_field", lambda: unknown_fields_not_stored(
                context, method, evidence.body, [answered, after]))])):
        return result
    if context.model.unknown_fields(evidence.body):
        answers.observe(verdict, context, "unknown_fields", "ignored", operation)
    if result.properties_mode is not None:
        answers.observe(verdict, context, "properties_on_patch", result.properties_mode.value, operation)
    result.outcome = UpdateOutcome.APPLIED if not verdict.failures else result.outcome
    return result


def _run_steps(verdict: Verdict, operation: str, steps: list[tuple[str, Any]]) -> bool:
    """Run checks in order; True once one failed (the judgement stops there)."""
    for rule_id, step in steps:
        if verdict.add(rule_id, operation, step()):
            return True
    return False


def _judge_refusal(context: Context, evidence: UpdateEvidence, result: UpdateJudgement) -> None:
    verdict, method, operation, answer = result.verdict, evidence.method.upper(), evidence.operation, evidence.answer
    in_body = context.model.body_duplicates(conflicts.candidate_state(context, evidence.before, method, evidence.body) or {})
    holders: list[dict[str, Any]] = []
    if evidence.holders is not None:
        holders = conflicts.explaining_holders(context, evidence.holders, evidence.before, method, evidence.body)
        if answer.status_code == 409 and verdict.add("uniqueness.conflict_explained", operation,
                                                     conflicts.conflict_explained(context, holders, in_body, evidence, operation)):
            return
    if answer.status_code == 401:
        answers.observe(verdict, context, "unauthorized_body",
                        "json" if isinstance(json_or_none(answer), dict) else "not_json", operation)
    else:
        if verdict.add("status.error_body_is_json", operation, answers.error_body_is_json(answer, operation)):
            return
        if answers.observe(verdict, context, "error_body_shape", answers.error_body_shape(answer), operation):
            return
    rejected_rule = REJECTED_RULE[method]
    if (_run_steps(verdict, operation, [(rejected_rule, lambda: read_back_found(evidence, rejected_rule))])
            or _run_steps(verdict, "GET /meeting_rooms/{sid}", [("shape.meeting_room_schema", lambda: answers.room_shape(
                context, evidence.after_answer, "GET /meeting_rooms/{sid}", f"rejected {method}: GET of the room"))])
            or _run_steps(verdict, operation, [(rejected_rule, lambda: rejected_changes_nothing(context, evidence, rejected_rule))])):
        return
    result.after = evidence.after
    if holders or (answer.status_code == 409 and in_body):
        result.holders = holders or [{"room": None, "codes": sorted(in_body, key=repr), "in_body": True}]
        result.outcome = UpdateOutcome.CONFLICT
        others = [h for h in holders if not h.get("in_body")]
        if others and not any(h.get("same_scope") for h in others):
            answers.observe(verdict, context, "codes_across_did_groups", "refused", operation)


def invalid_input_steps(context: Context, evidence: UpdateEvidence) -> list[tuple[str, Any]]:
    """Checks of an accepted body's values (each applies only when the body breaks its rule)."""
    method, body = evidence.method.upper(), evidence.body
    steps: list[tuple[str, Any]] = []
    reasons = context.model.invalid_value_reasons(body) if isinstance(body, dict) else ["the body is not a JSON object"]
    duplicates = context.model.body_duplicates(body)
    if duplicates and not reasons:
        steps.append(("uniqueness.within_room", lambda: [Failure(
            "uniqueness.within_room", room_operation(method), f"accepted {method}",
            f"{method} repeating access code(s) {sorted(duplicates)} in one body was accepted")]))
    if reasons:
        steps.append(("bad_input.rejected", lambda: [Failure(
            "bad_input.rejected", room_operation(method), f"accepted {method}",
            f"{method} with invalid input was accepted: {'; '.join(reasons)}")]))
    if isinstance(body, dict):
        steps += [("bad_input.rejected", check) for check in did_group_checks(context, method, body)]
        if method == "PUT" and context.model.missing_put_fields(body):
            missing = context.model.missing_put_fields(body)
            steps.append(("put.all_fields_required", lambda: [Failure(
                "put.all_fields_required", room_operation("PUT"), "accepted PUT", f"PUT without {missing} was accepted")]))
    return steps


def did_group_checks(context: Context, method: str, body: Mapping[str, Any]) -> list[Any]:
    """An accepted value of an `x-references` field names a resource of the account (judged when the
    account's resources were read, also when the account has none; else not checked). Only a value
    that names nothing of the account is a check: an accepted value the run knows to exist could not
    have failed, so it is not counted as a pass."""
    checks = []
    known = context.known_did_groups
    for reference in context.model.REFERENCES:
        sent = body.get(reference.field)
        if not isinstance(sent, str) or known is None or sent in known:
            continue
        checks.append(lambda reference=reference, sent=sent: [Failure(
            "bad_input.rejected", room_operation(method), f"accepted {method}",
            f"{method} with `{reference.field}` {sent!r}, which names nothing in {reference.resource} of the account, "
            "was accepted")])
    return checks


def unreferenced_fields(context: Context, body: Any) -> list[str]:
    """`x-references` fields whose accepted value could not be judged (the account's resources unknown)."""
    if not isinstance(body, dict) or context.known_did_groups is not None:
        return []
    return [r.field for r in context.model.REFERENCES if isinstance(body.get(r.field), str)]


def read_back_found(evidence: UpdateEvidence, rule_id: str) -> list[Failure]:
    """The room is still there under its sid after the update (GET 200)."""
    got = evidence.after_answer
    if got is not None and got.status_code == 200:
        return []
    method = evidence.method.upper()
    status = got.status_code if got is not None else "no answer"
    detail = (f"after an accepted {method} with read-only value(s) the room is no longer found under its sid"
              if rule_id == "read_only.never_applied" else f"GET of the room answered {status}, expected 200")
    return [Failure(rule_id, evidence.operation, f"room after {method}", detail, observed=json_or_none(evidence.answer))]


@judge("patch.partial_update")
def patch_partial_update(context: Context, before: Mapping[str, Any], body: Mapping[str, Any], after: Mapping[str, Any],
                         rule_id: str = "patch.partial_update") -> list[Failure]:
    """Sent fields are set (every sent key of a merge-or-replace object has the sent value), every
    other field keeps its value."""
    model = context.model
    expected = model.apply_patch(before, body, PropertiesMode.REPLACE)
    nested = [f for f in model.MERGE_OR_REPLACE_FIELDS if f in body and isinstance(body[f], dict)]
    fields = tuple(f for f in model.DOCUMENTED_FIELDS if f not in nested)
    diffs = model.differences(expected, after, fields)
    for name in nested:
        observed = after.get(name) if isinstance(after.get(name), dict) else {}
        diffs += [f"{name}.{key}: expected {value!r}, observed {observed.get(key, '(absent)')!r}"
                  for key, value in body[name].items() if observed.get(key) != value]
    if not diffs:
        return []
    return [Failure(rule_id, room_operation("PATCH"), "accepted PATCH, room read back", "; ".join(diffs),
                    expected=model.comparable(expected), observed=model.comparable(after))]


def _properties(context: Context, evidence: UpdateEvidence, after: Mapping[str, Any], result: UpdateJudgement) -> list[Failure]:
    failures: list[Failure] = []
    for name in context.model.MERGE_OR_REPLACE_FIELDS:
        if name in evidence.body and isinstance(evidence.body[name], dict):
            found, mode = properties_merge_or_replace(context, name, evidence.before, evidence.body, after)
            failures += found
            result.properties_mode = mode or result.properties_mode
    return failures


@judge("patch.properties_merge_or_replace")
def properties_merge_or_replace(context: Context, name: str, before: Mapping[str, Any], body: Mapping[str, Any],
                                after: Mapping[str, Any]) -> tuple[list[Failure], PropertiesMode | None]:
    """The old keys that were not sent are all kept (merge) or all gone (replace): the pinned mode,
    else the one seen all run. Returns the failures and the mode this answer proves (if only one fits)."""
    candidates = {mode: context.model.apply_patch(before, body, mode)[name] for mode in PropertiesMode}
    allowed = context.properties_allowed()
    matching = [mode for mode in PropertiesMode if candidates[mode] == after.get(name)]
    proven = matching[0] if len(matching) == 1 else None
    if any(mode in allowed for mode in matching):
        return [], proven
    if matching:
        why = "pinned" if context.properties_pinned else f"what the target did earlier in the run ({context.properties_evidence})"
        detail = f"PATCH {matching[0].value}d `{name}`, but {allowed[0].value} is {why}"
    else:
        detail = f"`{name}` is neither the merge nor the replacement of the old and the sent objects"
    return [Failure("patch.properties_merge_or_replace", room_operation("PATCH"), f"PATCH of `{name}`", detail,
                    expected={mode.value: candidates[mode] for mode in allowed}, observed=after.get(name))], None


@judge("put.full_replacement")
def put_full_replacement(context: Context, before: Mapping[str, Any], body: Mapping[str, Any], after: Mapping[str, Any],
                         rule_id: str = "put.full_replacement") -> list[Failure]:
    """Every modifiable field is exactly the body's value; read-only fields unchanged."""
    return state_matches(context, rule_id, context.model.apply_put(before, body), after, room_operation("PUT"),
                         "accepted PUT, room read back")


def state_matches(context: Context, rule_id: str, expected: Mapping[str, Any], observed: Mapping[str, Any], operation: str,
                  situation: str, fields: tuple[str, ...] | None = None) -> list[Failure]:
    """Every documented field (or `fields`) is as expected; access codes compare as a set."""
    diffs = context.model.differences(expected, observed, fields)
    if not diffs:
        return []
    return [Failure(rule_id, operation, situation, "; ".join(diffs), expected=context.model.comparable(expected),
                    observed=context.model.comparable(observed))]


@judge("patch.response_is_updated_object")
@judge("put.response_is_updated_object")
def response_is_updated_object(context: Context, method: str, answered: Mapping[str, Any], after: Mapping[str, Any]) -> list[Failure]:
    """The answer of an accepted update is the full updated object: the state a GET reads back."""
    return state_matches(context, ANSWER_RULE[method], after, answered, room_operation(method),
                         f"the {method} answer differs from the room read back")


@judge("read_paths.list_matches_get")
def list_matches_get(context: Context, listed: Any, after: Mapping[str, Any], operation: str) -> list[Failure] | None:
    """The room's item in the account's list is the room as GET by sid shows it (None: the list was not read)."""
    if listed is LIST_NOT_READ:
        return None
    if listed is None:
        return [Failure("read_paths.list_matches_get", LIST_OPERATION, f"after {operation}",
                        "the room is not in the account's list, though GET by sid finds it",
                        observed={"sid": after.get(context.model.ID_FIELD)})]
    return state_matches(context, "read_paths.list_matches_get", after, listed, LIST_OPERATION,
                         f"after {operation}: the list item differs from GET by sid")


@judge("read_only.never_applied")
def read_only_never_applied(context: Context, evidence: UpdateEvidence) -> list[Failure]:
    """After an accepted body with different read-only values the room is unchanged in its
    read-only fields, in the answer and read back."""
    method = evidence.method.upper()
    for label, room in (("answer", json_or_none(evidence.answer)), ("room read back", evidence.after)):
        if not isinstance(room, dict):
            continue
        changed = {f: room.get(f) for f in context.model.READ_ONLY_FIELDS if room.get(f) != evidence.before.get(f)}
        if changed:
            return [Failure("read_only.never_applied", evidence.operation, f"accepted {method} ({label})",
                            "applied read-only value(s)", expected={f: evidence.before.get(f) for f in changed},
                            observed=changed)]
    return []


@judge("bad_input.unknown_field")
def unknown_fields_not_stored(context: Context, method: str, body: Any, rooms_seen: list[Any]) -> list[Failure] | None:
    """An unknown field that was accepted is neither stored nor returned (None: none was sent)."""
    unknown = context.model.unknown_fields(body) if isinstance(body, dict) else []
    if not unknown:
        return None
    for room in rooms_seen:
        leaked = [name for name in unknown if isinstance(room, dict) and name in room]
        if leaked:
            return [Failure("bad_input.unknown_field", room_operation(method), f"accepted {method}",
                            f"unknown field(s) {leaked} were stored and returned", observed={n: room[n] for n in leaked})]
    return []


@judge("patch.rejected_changes_nothing")
@judge("put.rejected_changes_nothing")
def rejected_changes_nothing(context: Context, evidence: UpdateEvidence, rule_id: str) -> list[Failure]:
    """After a 4xx the room is exactly as before."""
    return state_matches(context, rule_id, evidence.before, evidence.after or {}, evidence.operation,
                         f"{evidence.method.upper()} was refused with {evidence.answer.status_code} but the room changed")
