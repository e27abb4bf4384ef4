"""Actions: the I/O above the judges. Send a request, read the room back (by sid and in the
account's list), look up the rooms that explain a refusal, then hand the evidence to the pure
judges and turn their typed failures into counted checks and test failures."""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import quote

import requests

from . import ownership, rules, stories, strategies
from .client import LIST_PAGE_SIZE, ConferenceClient
from .curl import curl_command
from .registry import NAME_KEY
from .judges import ContractViolation, Failure, Verdict
from .judges import answers, conflicts, updates
from .judges.updates import LIST_NOT_READ, UpdateEvidence, room_operation
from .rules import UpdateOutcome
from .run import Run

ROOM_GET = "GET /meeting_rooms/{sid}"
CREATE = "POST /meeting_rooms"


# -- failures become test failures -------------------------------------------------------------------

def violation(run: Run, failure: Failure, response: requests.Response | None = None,
              judge: dict[str, Any] | None = None) -> ContractViolation:
    """The test failure for `failure`: the request as curl (credentials as variables), the answer,
    and its story (the requests that led to it, replayable: `stories`, `replay`)."""
    reproduction = curl_command(response.request) if response is not None and response.request is not None else None
    answer = f"HTTP {response.status_code} {response.text[:800]}" if response is not None else None
    story, text = failure_story(run, failure, response, judge)
    error = ContractViolation(failure, reproduction=reproduction, answer=answer, redact=run.target.redactor.scrub, story=text)
    error.story = story
    return error


STAND_IN = "X-Contract-Note"  # client.py: an answer the client made up (a DELETE after a gateway error)


def is_stand_in(response: requests.Response | None) -> bool:
    """An answer the suite made up, not the target's: never observed, never counted."""
    return response is not None and STAND_IN in response.headers


def failure_story(run: Run, failure: Failure, response: requests.Response | None,
                  judge: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """The failure's story as a document (reports/failures/<id>.json) and as the text printed with it."""
    registry = getattr(run.target, "registry", None)
    if registry is None or not hasattr(registry, "stories"):
        return None, None
    steps = registry.stories.story(response, run.target.client("primary"))
    if not steps:
        return None, None
    if judge is None and isinstance(failure.expected, Mapping) and isinstance(failure.observed, Mapping):
        judge = {"kind": "state"}  # a test's own comparison of two room states (e.g. concurrency.no_lost_update)
    if judge is not None and judge.get("kind") == "state":
        judge = {**judge, **evidence_sources(run, steps, failure)}
    if judge is not None:  # what the run knew when it judged (a replay judges with the same knowledge)
        context = run.context()
        judge = {**judge, "context": {
            "properties_settled": context.properties_settled.value if context.properties_settled else None,
            "properties_evidence": context.properties_evidence, "codes_across_did_groups": context.codes_across_did_groups}}
    doc = stories.document(steps, failure, run.recorder.current_test, judge, replay_target(run))
    return doc, stories.story_text(doc, getattr(run, "report_dir", None) or "reports")


def _rooms_in(run: Run, step: stories.Step) -> list[tuple[str | None, dict[str, Any]]]:
    """The rooms a recorded answer shows: (None, room) for a room answer, (sid, item) for list items."""
    try:
        data = json.loads(step.answer) if step.answer else None
    except ValueError:
        return []
    id_field = run.model.ID_FIELD
    if isinstance(data, dict) and id_field in data:
        return [(None, data)]
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return [(item.get(id_field), item) for item in data["items"] if isinstance(item, dict)]
    return []


def _same_state(run: Run, room: Mapping[str, Any], value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    view = run.model.comparable(room)
    if view == value:
        return True
    try:
        return view == json.loads(json.dumps(run.model.comparable(value), default=str))
    except (TypeError, ValueError, AttributeError):
        return False


def evidence_sources(run: Run, steps: list[stories.Step], failure: Failure) -> dict[str, Any]:
    """Which recorded answers a state comparison's `observed` and `expected` were read from (the step
    index; a list item by its sid; `expected` may be an answer with the failing request's body laid over
    it), so a replay compares the same answers freshly gathered. Not found: a replay uses the recorded
    value (`expected`) or cannot judge (`observed`)."""
    failing = next((i for i, s in enumerate(steps) if s.role == "failing"), len(steps) - 1)
    sources: dict[str, Any] = {}
    after = range(failing + 1, len(steps))  # the failing answer, then the reads after it, then the rest
    order = [failing, *(i for i in after if steps[i].method == "GET"), *(i for i in after if steps[i].method != "GET"),
             *range(failing - 1, -1, -1)]
    for i in order:
        found = next(((sid, room) for sid, room in _rooms_in(run, steps[i]) if _same_state(run, room, failure.observed)), None)
        if found is not None:
            sources["observed"] = {"step": i, "item": found[0]}
            break
    body = None
    try:
        body = json.loads(steps[failing].body) if steps[failing].body else None
    except ValueError:
        pass
    for i in list(range(failing - 1, -1, -1)) + list(range(failing, len(steps))):
        observed_here = sources.get("observed", {}).get("step") == i
        for sid, room in _rooms_in(run, steps[i]):
            if observed_here:  # only as itself with the failing body laid over it (a POST's answer and what it sent)
                if isinstance(body, dict) and _same_state(run, {**room, **body}, failure.expected):
                    sources["expected"] = {"step": i, "item": sid, "overlay": failing}
            elif _same_state(run, room, failure.expected):
                sources["expected"] = {"step": i, "item": sid}
            elif isinstance(body, dict) and _same_state(run, {**room, **body}, failure.expected):
                sources["expected"] = {"step": i, "item": sid, "overlay": failing}
            if "expected" in sources:
                return sources
    return sources


def replay_target(run: Run) -> dict[str, Any]:
    """What a replay needs to know of the run's target (no secret)."""
    settings = run.target.settings
    logins = {}
    for which in ("primary", "second"):
        known = run.target.credentials(which)
        if known is not None:
            logins[which] = known.username
    return {"base_url": None if settings.uses_mock else run.target.base_url, "embedded_mock": settings.uses_mock,
            "mock_faults": list(settings.mock_faults), "mock_variants": list(settings.mock_variants),
            "spec": str(run.spec.path), "pins": dict(run.pins), "logins": logins,
            "room_name_prefix": run.target.registry.room_name_prefix}


def front_refusal(run: Run, response: requests.Response | None) -> str | None:
    """Why an answer came from a firewall or proxy in front of the API, with what it refused (one line);
    None when it may be the API's (`answers.infrastructure_refusal`, with the API's signature so far)."""
    if response is None:
        return None
    how = answers.infrastructure_refusal(response, frozenset(run.target.counter.api_signatures))
    if how is None:
        return None
    request = response.request
    sent = request.body if request is not None else None
    sent = bytes(sent) if sent is not None and not isinstance(sent, (bytes, str)) else sent
    text = sent.decode("utf-8", "replace") if isinstance(sent, bytes) else (sent or "")
    what = f"{request.method} {text[:90]}{'…' if len(text) > 90 else ''}" if request is not None and text else "the request"
    return f"not tested, refused in front of the API ({how}): {what}"


def settle(run: Run, verdict: Verdict, response: requests.Response | None = None,
           judge: dict[str, Any] | None = None) -> None:
    """Count the verdict's checks; raise the first failure as a ContractViolation. An answer that is
    not the API's is judged by nothing: a stand-in (after a gateway error) or a firewall's or proxy's
    refusal (`front_refusal`: what it refused was not tested); its checks are recorded as not
    checked (with the value), its behaviours not observed."""
    if is_stand_in(response):
        for rule_id, operation, _passed in verdict.checked:
            run.recorder.unchecked(rule_id, operation, "the answer was a stand-in after a gateway error, not the target's")
        return
    refused_in_front = front_refusal(run, response)
    if refused_in_front is not None:
        for rule_id, operation, _passed in verdict.checked:
            run.recorder.unchecked(rule_id, operation, refused_in_front)
        return
    made: dict[int, ContractViolation] = {}

    def make(failure: Failure) -> ContractViolation:
        if id(failure) not in made:
            made[id(failure)] = violation(run, failure, response, judge)
        return made[id(failure)]

    run.record(verdict, make)
    if verdict.failures:
        raise make(verdict.failures[0])


def check(run: Run, rule_id: str, operation: str, failures: list[Failure] | None,
          response: requests.Response | None = None, judge: dict[str, Any] | None = None) -> None:
    """One check of `rule_id` (None: it did not apply): counted, and raised when it failed. `judge`
    names the pure judge and its inputs, recorded with a failure so a replay judges the same way."""
    verdict = Verdict()
    verdict.add(rule_id, operation, failures)
    settle(run, verdict, response, judge)


def answer_judge(judge_name: str, /, **inputs: Any) -> dict[str, Any]:
    """A judge of the failing request's own answer (replay.py re-runs it on the fresh answer)."""
    return {"kind": "answer", "judge": judge_name, **inputs}


@contextlib.contextmanager
def rule(run: Run, rule_id: str, operation: str) -> Iterator[None]:
    """Count one check of `rule_id` around code that raises ContractViolation when the rule is broken
    (a check counted as passed must have been able to fail)."""
    rules.rule(rule_id)
    try:
        yield
    except ContractViolation as error:
        run.recorder.checked(error.rule, operation, False, error)
        raise
    run.recorder.checked(rule_id, operation, True)


def fail(run: Run, rule_id: str, operation: str, situation: str, detail: str, response: requests.Response | None = None,
         *, expected: Any = None, observed: Any = None, judge: dict[str, Any] | None = None) -> ContractViolation:
    """A ContractViolation for a failure found by a test's own logic (count it with `rule`)."""
    return violation(run, Failure(rule_id, operation, situation, detail, expected, observed), response, judge)


def observe(run: Run, name: str, alternative: str, operation: str, response: requests.Response | None = None) -> None:
    """Record which allowed alternative the target picked; a pinned behaviour must pick the pin."""
    verdict = Verdict()
    answers.observe(verdict, run.context(), name, alternative, operation)
    settle(run, verdict, response)


# -- one answer --------------------------------------------------------------------------------------

def never_5xx(run: Run, response: requests.Response, operation: str, situation: str) -> None:
    check(run, "server.never_5xx", operation, answers.never_5xx(response, operation, situation), response,
          answer_judge("never_5xx"))


def status_is(run: Run, rule_id: str, response: requests.Response, allowed: frozenset[int], operation: str,
              situation: str) -> None:
    """The status is one of `allowed` (counted under `rule_id`); a 5xx is `server.never_5xx`."""
    never_5xx(run, response, operation, situation)
    check(run, rule_id, operation, answers.status_in(rule_id, response, allowed, operation, situation), response,
          answer_judge("status_in", allowed=sorted(allowed)))


def rejection_status(run: Run, behaviour_name: str, response: requests.Response, operation: str, situation: str) -> None:
    """A refusal uses one of the statuses the contract allows for the situation; records which."""
    behaviour = rules.behaviour(behaviour_name)
    status_is(run, behaviour.rule, response, frozenset(int(s) for s in behaviour.alternatives), operation, situation)
    observe(run, behaviour_name, str(response.status_code), operation, response)


def error_body_is_json_object(run: Run, response: requests.Response, operation: str) -> None:
    """An API error (4xx except 401, which a gateway may answer) carries a JSON object."""
    if response.status_code == 401:
        observe(run, "unauthorized_body", "json" if isinstance(_json(response), dict) else "not_json", operation, response)
        return
    check(run, "status.error_body_is_json", operation, answers.error_body_is_json(response, operation), response,
          answer_judge("error_body_is_json"))
    observe(run, "error_body_shape", answers.error_body_shape(response), operation, response)


def room_schema(run: Run, response: requests.Response, operation: str, situation: str) -> dict[str, Any]:
    """The body is a Meeting Room object valid against the spec; returns it."""
    check(run, "shape.meeting_room_schema", operation, answers.room_shape(run.context(), response, operation, situation),
          response, answer_judge("room_shape"))
    return response.json()


def room_answer(run: Run, rule_id: str, response: requests.Response, operation: str, situation: str) -> dict[str, Any]:
    """A 200 answer (status counted under `rule_id`) whose body is a valid Meeting Room object."""
    status_is(run, rule_id, response, frozenset({200}), operation, situation)
    return room_schema(run, response, operation, situation)


def read_room(run: Run, client: ConferenceClient, sid: str, situation: str) -> dict[str, Any]:
    """GET the room the test works on. A setup read: its 200 and shape are checked, and counted
    under `status.documented_codes` and `shape.meeting_room_schema` (never under the calling rule)."""
    return room_answer(run, "status.documented_codes", client.get_room(sid), ROOM_GET, f"{situation}: GET of the room")


def last_read(run: Run, client: ConferenceClient, sid: str, situation: str) -> dict[str, Any]:
    """The room as its owner last read it by sid when no request went to it since; else GET it (`read_room`)."""
    known = client.registry.last_read(sid, client)
    return known if known is not None else read_room(run, client, sid, situation)


def _both(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """Run two independent reads at the same time (the second in a worker thread); errors are raised as usual."""
    future = _READERS.submit(second)
    try:
        one = first()
    finally:
        wait([future])  # never leave a read running past the exchange (its error comes next, after the first's)
    return one, future.result()


_READERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="contract-read")


def state_matches(run: Run, rule_id: str, expected: Mapping[str, Any], observed: Mapping[str, Any],
                  response: requests.Response | None, operation: str, situation: str, *,
                  fields: tuple[str, ...] | None = None) -> None:
    """Every documented field (or `fields`) is as expected; access codes compare as a set."""
    check(run, rule_id, operation, updates.state_matches(run.context(), rule_id, expected, observed, operation, situation,
                                                         fields), response, {"kind": "state", "fields": fields})


# -- the account's list: a read path of its own -----------------------------------------------------

FULL_LISTINGS_PER_TEST = 3  # list read-backs that page through the whole account, per test (a large account)


def listed_room(run: Run, client: ConferenceClient, sid: str) -> Any:
    """The room's item in the account's list (None: not listed; LIST_NOT_READ: not read, recorded).

    Whether the target honours the documented `filter` is learnt from the first read and kept for the
    run (`Run.list_filter`). Honoured: one request with the filter. Ignored (or not known yet): the
    first page of the account (the largest page, in a stable order), where the room is unless the
    account holds more rooms than a page; only then the whole account is read page by page, at most
    FULL_LISTINGS_PER_TEST times per test: a shared account of thousands of rooms does not cost every
    update a full listing (the rule is checked on the first ones, the others are recorded as not read)."""
    id_field = run.model.ID_FIELD
    if run.list_filter is not False:
        response = client.request("GET", f"/meeting_rooms?filter={quote(f'{id_field} eq {sid}')}&limit={LIST_PAGE_SIZE}")
        data = _json(response) if response.status_code == 200 else None
        items = data.get("items") if isinstance(data, dict) else None
        if isinstance(items, list):
            listed = [item for item in items if isinstance(item, dict)]
            client.registry.note_listed(item.get(id_field) for item in listed)  # as a full listing does (R10-8)
            if run.list_filter is None:
                run.list_filter = all(item.get(id_field) == sid for item in listed) if listed else None
            found = [item for item in listed if item.get(id_field) == sid]
            if found:
                return found[0]
            if run.list_filter is False and isinstance(data.get("total"), int) and len(listed) >= data["total"]:
                return None  # the whole account is on this page, without the room
    else:
        page, total, _ = client.list_page("/meeting_rooms", 0, LIST_PAGE_SIZE, f"&order={id_field}+asc")
        client.registry.note_listed(item.get(id_field) for item in page if isinstance(item, dict))
        found = [item for item in page if isinstance(item, dict) and item.get(id_field) == sid]
        if found:
            return found[0]
        if total is not None and len(page) >= total:
            return None
    if not run.full_listing_allowed(FULL_LISTINGS_PER_TEST):
        run.recorder.unchecked("read_paths.list_matches_get", updates.LIST_OPERATION, "the list item was not read: the "
                               "target ignores `filter` and the account holds more rooms than one page; the whole account "
                               f"is read at most {FULL_LISTINGS_PER_TEST} times per test")
        return LIST_NOT_READ
    return next((room for room in client.list_all("/meeting_rooms") if room.get(id_field) == sid), None)


def account_rooms(run: Run, client: ConferenceClient, answer: requests.Response | None = None) -> list[dict[str, Any]]:
    """Every room of the login's account; the codes they hold are remembered as taken. The listing read
    to look into one refusal (`answer`) is shared by every check that looks into the same refusal."""
    key = (id(answer), id(client)) if answer is not None else None
    shared = run.refusal_listing
    if key is not None and shared is not None and shared[0] == key and shared[1] is answer:
        return shared[2]
    rooms = client.list_all("/meeting_rooms")
    for room in rooms:
        run.codes.add(run.model.unique_values(room))
    if key is not None:
        run.refusal_listing = (key, answer, rooms)
    return rooms


def code_holders(run: Run, client: ConferenceClient, sid: str | None, before: Mapping[str, Any] | None, method: str,
                 body: Any, answer: requests.Response | None = None) -> list[dict[str, Any]]:
    """Rooms of the account (other than `sid`) holding a code of the state the request asks for (`answer`:
    the refusal looked into; its listing is read once)."""
    candidate = conflicts.candidate_state(run.context(), before, method, body)
    if not candidate or not run.model.unique_values(candidate):
        return []
    holders = conflicts.holders_among(run.context(), account_rooms(run, client, answer), candidate, sid)
    others = getattr(run, "worker_codes", None)  # xdist: codes other workers of the run sent lately
    if others is not None:
        holders += others.holders(candidate, {code for holder in holders for code in holder["codes"]})
    return holders


def conflict_explained(run: Run, client: ConferenceClient, sid: str | None, before: Mapping[str, Any] | None, method: str,
                       body: Any, response: requests.Response) -> list[dict[str, Any]]:
    """The rooms that explain a refusal (empty: not a conflict). A 409 that no room explains is a
    violation (a valid request refused): counted and raised."""
    context = run.context()
    operation = room_operation(method) if sid else f"{method.upper()} /meeting_rooms"
    holders = conflicts.explaining_holders(context, code_holders(run, client, sid, before, method, body, response), before,
                                           method, body)
    candidate = conflicts.candidate_state(context, before, method, body)
    in_body = run.model.body_duplicates(candidate) if candidate else set()
    if response.status_code == 409:
        evidence = UpdateEvidence(method, body, before or {}, response)
        check(run, "uniqueness.conflict_explained", operation,
              conflicts.conflict_explained(context, holders, in_body, evidence, operation), response)
    return holders or ([{"room": sid, "codes": sorted(in_body, key=repr), "in_body": True}] if in_body else [])


# -- one PATCH/PUT ---------------------------------------------------------------------------------

def update_evidence(run: Run, client: ConferenceClient, sid: str, before: Mapping[str, Any], method: str, body: Any,
                    response: requests.Response, *, state_rule: str | None = None) -> UpdateEvidence:
    """The evidence of one PATCH/PUT: the room by sid, its list item, the rooms holding its codes
    when a refusal may be a conflict (also what `replay` gathers)."""
    context = run.context()
    evidence = UpdateEvidence(method.upper(), body, before, response, state_rule=state_rule)
    if 400 <= response.status_code < 500 and updates.needs_conflict_lookup(context, evidence):
        evidence = _with(evidence, holders=code_holders(run, client, sid, before, method, body, response))
    if response.status_code == 200 and run.list_readback_wanted():  # the two read paths, at the same time (each after the answer)
        after_answer, listed = _both(lambda: client.get_room(sid), lambda: listed_room(run, client, sid))
        evidence = _with(evidence, after_answer=after_answer)
        if evidence.after is not None:
            evidence = _with(evidence, listed=listed)
    elif response.status_code == 200:  # past the test's list read-backs (`--list-readbacks`): GET by sid only
        evidence = _with(evidence, after_answer=client.get_room(sid))
    elif response.status_code < 500:
        evidence = _with(evidence, after_answer=client.get_room(sid))
    return evidence


def judge_update(run: Run, client: ConferenceClient, sid: str, before: Mapping[str, Any], method: str, body: Any,
                 response: requests.Response, *, state_rule: str | None = None, sent_as: str | None = None) -> UpdateOutcome:
    """Gather the evidence of one PATCH/PUT (the room by sid, its list item, the rooms holding its
    codes when a refusal may be a conflict), judge it, count the checks; raise the first failure.
    `sent_as` names an unusual way the body travelled (e.g. chunked): every failure's situation says it."""
    context = run.context()
    evidence = update_evidence(run, client, sid, before, method, body, response, state_rule=state_rule)
    judgement = updates.judge_update(context, evidence)
    if sent_as:
        judgement.verdict.failures[:] = [replace(failure, situation=f"{failure.situation} ({sent_as})")
                                         for failure in judgement.verdict.failures]
    for name in updates.unreferenced_fields(context, body) if response.status_code == 200 else ():
        judgement.verdict.not_checked.append(("bad_input.rejected", evidence.operation,
                                              f"accepted `{name}` not judged: no DID group of the account known"))
    answered_sid = (_json(response) or {}).get(run.model.ID_FIELD) if isinstance(_json(response), dict) else None
    if response.status_code == 200 and isinstance(answered_sid, str) and answered_sid != sid:
        if ownership.moved_room_is_ours(client.registry, answered_sid):  # our room, moved to a sid this run made up
            client.registry.record_created(answered_sid, client)
        else:
            client.registry.report_foreign(answered_sid, f"was named by the server's answer to {method.upper()} of our room "
                                           f"{sid} (re-keyed?)")
    if judgement.properties_mode is not None:
        if run.properties_settled is None:  # the curl is the evidence of the first answer only: not built for the others
            run.settle_properties(judgement.properties_mode, curl_command(response.request))
    settle(run, judgement.verdict, response, {"kind": "update", "state_rule": state_rule})
    return judgement.outcome


def _with(evidence: UpdateEvidence, **changes: Any) -> UpdateEvidence:
    return replace(evidence, **changes)


def send_update(run: Run, client: ConferenceClient, sid: str, method: str, body: Any, *, complete_put: bool = True,
                state_rule: str | None = None) -> tuple[dict[str, Any], requests.Response, UpdateOutcome]:
    """GET the room, send the PATCH/PUT (a PUT completed as the target wants it), judge the answer.

    When the room's owner read it by sid after the last request that went to it (the read-back of
    the previous update), that read is the room before: a second GET would prove nothing new."""
    before = last_read(run, client, sid, f"room before {method.upper()}")
    if method.upper() == "PUT" and complete_put:
        body = complete_put_body(run, body, before)
    response = client.request(method, client.room_path(sid), json_body=body)
    return before, response, judge_update(run, client, sid, before, method, body, response, state_rule=state_rule)


def valid_update_accepted(run: Run, outcome: UpdateOutcome, rule_id: str, method: str, response: requests.Response) -> bool:
    """A body the contract calls valid was applied. False for a proven conflict (another room really
    holds a code): the example says nothing about `rule_id` and is not counted."""
    if outcome is UpdateOutcome.CONFLICT:  # proven (uniqueness.conflict_explained counted it); recorded, not dropped
        run.recorder.unchecked(rule_id, room_operation(method), "a valid body refused as a proven conflict (another room "
                               "of the account holds a drawn code): not judged")
        return False
    failures = [] if outcome is UpdateOutcome.APPLIED else [Failure(
        rule_id, room_operation(method), f"valid {method.upper()}", f"a valid {method.upper()} was refused with HTTP "
        f"{response.status_code}")]
    check(run, rule_id, room_operation(method), failures, response, answer_judge("accepted"))
    return True


def proven_conflict(run: Run, rule_id: str, operation: str, situation: str = "") -> None:
    """A valid request refused as a proven conflict (another room of the account holds one of its codes,
    `uniqueness.conflict_explained` counted it): the example says nothing about `rule_id`. Recorded as
    not judged; inside a hypothesis example it is also rejected (hypothesis draws another), elsewhere
    the caller returns (hypothesis's `reject()` outside `@given` would be an error, not a skip)."""
    from hypothesis import reject
    from hypothesis.control import currently_in_test_context

    run.recorder.unchecked(rule_id, operation, (f"{situation}: " if situation else "") + "refused as a proven conflict "
                           "(another room of the account holds one of its codes): not judged")
    if currently_in_test_context():
        reject()


def update_refused(run: Run, outcome: UpdateOutcome, behaviour_name: str, method: str, response: requests.Response,
                   situation: str) -> None:
    """An invalid body was refused with a status the contract allows (nothing changed: `judge_update`).
    A refusal proven as a conflict (another room holds a code the body's valid part drew) is not judged
    against the statuses of an invalid value: the 409 is about the code, recorded as not judged."""
    behaviour = rules.behaviour(behaviour_name)
    if outcome is UpdateOutcome.CONFLICT and behaviour_name != "status_duplicate_code":
        proven_conflict(run, behaviour.rule, room_operation(method), situation)
        return
    failures = [Failure(behaviour.rule, room_operation(method), situation, "accepted, must be refused")] \
        if outcome is UpdateOutcome.APPLIED else []
    check(run, behaviour.rule, room_operation(method), failures, response, answer_judge("refused"))
    rejection_status(run, behaviour_name, response, room_operation(method), situation)


# -- one value by POST (the edge corpus, the transition table) ------------------------------------------

def create_with(run: Run, client: ConferenceClient, body: dict[str, Any], situation: str, rule_id: str) -> tuple[
        UpdateOutcome, requests.Response]:
    """POST a room with `body` (the value under test, and the run's name or a fresh code that finds
    the room when the name is the value under test) and judge it: refused, a JSON error, a 409
    explained by a room holding a code and no room created (REJECTED or CONFLICT); accepted, every
    sent field exactly as sent (under `rule_id`) in the answer, by GET and as the room's item in the
    account's list (the item is the room as GET shows it), then the room is deleted (APPLIED)."""
    response = client.create_room(body)  # a created room is recorded at once and deleted at the end of the run
    never_5xx(run, response, CREATE, situation)
    if response.status_code >= 400:
        return _refused_post(run, client, body, response), response
    created = room_answer(run, "status.documented_codes", response, CREATE, situation)
    sid = created[run.model.ID_FIELD]
    sent = tuple(body)
    try:
        state_matches(run, rule_id, {**created, **body}, created, response, CREATE, f"{situation}: the answer", fields=sent)
        got, listed = _both(lambda: client.get_room(sid), lambda: listed_room(run, client, sid))
        after = room_answer(run, "status.documented_codes", got, ROOM_GET, f"{situation}: GET of the room")
        state_matches(run, rule_id, {**after, **body}, after, response, CREATE, f"{situation}: read back", fields=sent)
        check(run, "read_paths.list_matches_get", updates.LIST_OPERATION,
              updates.list_matches_get(run.context(), listed, after, CREATE), response)
    finally:
        if client.registry.owns(sid):
            client.delete_if_ours(sid)
        else:  # the answer names a room the account held before: the room this POST created is found by its marker
            _rooms_of_this_post(run, client, body)
    return UpdateOutcome.APPLIED, response


def _refused_post(run: Run, client: ConferenceClient, body: dict[str, Any], response: requests.Response) -> UpdateOutcome:
    """A refused POST: a JSON error, a 409 explained by a room holding a code, and no room created."""
    provable = response.status_code == 409 or (response.status_code in (400, 422) and not run.model.invalid_value_reasons(body))
    holders = conflict_explained(run, client, None, None, "POST", body, response) if provable else []
    error_body_is_json_object(run, response, CREATE)
    _nothing_created(run, client, body, response)
    return UpdateOutcome.CONFLICT if holders else UpdateOutcome.REJECTED


def _identity(run: Run, client: ConferenceClient, body: dict[str, Any]) -> tuple[str | None, set]:
    """What identifies the room of this POST: the run's room name it carries, else its fresh code."""
    name = body.get(NAME_KEY) if isinstance(body.get(NAME_KEY), str) and body[NAME_KEY].startswith(
        client.registry.room_name_prefix + " ") else None
    return name, run.model.unique_values(body) if name is None and run.model.UNIQUE else set()


def _rooms_of_this_post(run: Run, client: ConferenceClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The rooms of the account carrying what identifies this POST (the run's room name, or its fresh
    code): one holding our name is the run's (`ownership`: deleted at the end of the run); one found by
    a code only is never adopted, it is reported for a human."""
    name, marker = _identity(run, client, body)
    if name is None and not marker:
        return []
    created = [room for room in client.list_all("/meeting_rooms")
               if (name is not None and room.get(NAME_KEY) == name) or (marker and marker & run.model.unique_values(room))]
    for room in created:
        if ownership.carries_a_name_of_the_run(client.registry, room):
            client.registry.record_created(room[run.model.ID_FIELD], client)  # holds the name this POST sent: ours
        elif not client.registry.owns(room[run.model.ID_FIELD]):
            client.registry.report_foreign(room[run.model.ID_FIELD], "holds this POST's fresh code (found by it; a code is "
                                           "no proof of who created a room)")
    return created


def _nothing_created(run: Run, client: ConferenceClient, body: dict[str, Any], response: requests.Response) -> None:
    """No room of the account carries what identifies this POST (the run's room name, or its fresh code)."""
    created = _rooms_of_this_post(run, client, body)
    name, marker = _identity(run, client, body)
    with rule(run, "round_trip.exact_values", CREATE):
        if created:
            raise violated(run, "round_trip.exact_values", f"POST was refused with {response.status_code}, but the room "
                           "was created all the same", response=response, observed=created[0],
                           judge=answer_judge("created_anyway", name=name, codes=sorted(marker, key=repr)))


def one_value_verdict(run: Run, field: str, value: Any, label: str, outcome: UpdateOutcome, response: requests.Response,
                      method: str, rule_id: str) -> None:
    """After one value of `field` was sent (and judged): a plain value must have been accepted (under
    `rule_id`); an edge value's refusal is observed (behaviour `edge_values`, or `edge_access_codes` for
    the unique array) and must use an allowed status; a proven conflict leaves it unjudged (recorded)."""
    operation = CREATE if method.upper() == "POST" else room_operation(method)
    if outcome is UpdateOutcome.CONFLICT:
        run.recorder.unchecked(rule_id, operation, f"{label}: refused, proven by another room holding a code; not judged")
        return
    if strategies.is_plain_field_value(run, field, value):
        failures = [] if outcome is UpdateOutcome.APPLIED else [Failure(
            rule_id, operation, f"{method.upper()} with {label}", f"a valid {method.upper()} ({label}: a plain value) "
            f"was refused with HTTP {response.status_code}")]
        check(run, rule_id, operation, failures, response, answer_judge("accepted"))
        return
    if outcome is UpdateOutcome.REJECTED:
        rejection_status(run, "status_invalid_value", response, operation, f"{method.upper()} with edge value {label}")
    behaviour = "edge_access_codes" if run.model.UNIQUE and field == run.model.UNIQUE[0].array_field else "edge_values"
    observe(run, behaviour, "accepted" if outcome is UpdateOutcome.APPLIED else "refused", operation, response)


# -- PUT as the target wants it -----------------------------------------------------------------------

def complete_put_body(run: Run, body: Any, room: Mapping[str, Any]) -> Any:
    """The body with the room's current read-only values when the target requires them."""
    if not run.put_style.read_only_required or not isinstance(body, dict):
        return body
    return {**{f: room.get(f) for f in run.model.READ_ONLY_FIELDS}, **body}


def complete_put_for(run: Run, body: Any, sid: str, client: ConferenceClient) -> Any:
    """A PUT to a sid the suite does not read first (unknown, another account's, deleted), as the
    target wants it: the path's sid and the sending login's own account, so the answer is about the sid."""
    if not run.put_style.read_only_required or not isinstance(body, dict):
        return body
    return complete_put_body(run, body, {**own_read_only_values(run, client), run.model.ID_FIELD: sid})


def own_read_only_values(run: Run, client: ConferenceClient) -> dict[str, Any]:
    """The read-only fields other than the id (the account) of the login's rooms, read from a room the
    run created with that login, or from one created for this and deleted at once. Read once per login."""
    login = client.credentials.username if client.credentials else ""
    known = run.own_read_only.get(login)
    if known is not None:
        return known
    room = None
    for sid, owner in client.registry.live_rooms():
        if owner is client:
            response = client.get_room(sid)
            if response.status_code == 200:
                room = response.json()
                break
    if room is None:
        name = client.registry.room_name("account", 0 if client.registry.worker_share else None)  # one per worker
        body = {NAME_KEY: name} if NAME_KEY in run.model.CREATABLE_FIELDS else {}
        room = room_answer(run, "status.documented_codes", client.create_room(body), CREATE,
                           "creating a room to learn the login's account (to complete a PUT)")
        client.delete_room(room[run.model.ID_FIELD])
    values = {f: room.get(f) for f in run.model.READ_ONLY_FIELDS if f != run.model.ID_FIELD}
    run.own_read_only[login] = values
    return values


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def violated(run: Run, rule_id: str, summary: str, *, response: requests.Response | None = None, expected: Any = None,
             observed: Any = None, operation: str = "", situation: str = "",
             judge: dict[str, Any] | None = None) -> ContractViolation:
    """A ContractViolation for a failure a test's own logic found (raise it inside `rule`). `judge`:
    how a replay judges it again (`answer_judge("refused")`: the answer was 2xx where a refusal was due)."""
    return violation(run, Failure(rule_id, operation, situation, summary, expected, observed), response, judge)
