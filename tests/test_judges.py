"""The pure judges on hand-made answers: no HTTP, no mock, no run. What was sent, the room before,
the answer and the room after go in; typed failures (rule, operation, situation, expected,
observed) and counted checks come out."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meeting_room_contract import spec
from meeting_room_contract.judges import JUDGES, Context, Failure, Verdict, answers, updates
from meeting_room_contract.judges.updates import LIST_NOT_READ, UpdateEvidence
from meeting_room_contract.model import Model, PropertiesMode
from meeting_room_contract.rules import RULES, UpdateOutcome

JUDGES_DIR = Path(updates.__file__).resolve().parent
MODEL = Model(spec.default())
PATCH = "PATCH /meeting_rooms/{sid}"
SID = "9b776e1e-77f0-559d-9bc9-d71631fb297b"
ROOM = {"meeting_room_sid": SID, "account_sid": "a5c1d5ab-8b0b-4a4e-9d4d-4c7e8b0e2f11", "name": "before",
        "did_group_sid": None, "properties": {"conference_start_wait": "360"},
        "access_codes": [{"access_code": "123456", "role": "host"}, {"access_code": "654321", "role": "participant"}]}


class Answer:
    """A hand-made HTTP answer: what a judge reads of one (status, headers, text, json())."""

    def __init__(self, status_code: int, body: Any = None, *, text: str | None = None,
                 content_type: str = "application/json"):
        self.status_code = status_code
        self.headers = {"Content-Type": content_type}
        self.text = text if text is not None else json.dumps(body)

    def json(self) -> Any:
        return json.loads(self.text)  # json.JSONDecodeError is a ValueError, as with requests


def context(**knowledge: Any) -> Context:
    return Context(model=MODEL, **knowledge)


def patched(before: dict[str, Any], body: dict[str, Any], after: dict[str, Any], *, listed: Any = "after",
            answered: dict[str, Any] | None = None) -> UpdateEvidence:
    """An accepted PATCH: the answer (default: the room read back), GET by sid, the list item (default: as GET)."""
    return UpdateEvidence("PATCH", body, before, Answer(200, answered if answered is not None else after),
                          after_answer=Answer(200, after), listed=after if listed == "after" else listed)


def only_failure(verdict: Verdict) -> Failure:
    [failure] = verdict.failures
    assert (failure.rule, failure.operation, False) in verdict.checked  # a failure is a counted, failed check
    return failure


def test_the_hand_made_room_is_a_valid_meeting_room():
    assert MODEL.room_errors(ROOM) == [], "the tests below would judge an invalid room"


def test_a_correct_patch_is_applied_with_every_check_counted_as_passed():
    after = {**ROOM, "name": "after"}
    judgement = updates.judge_update(context(), patched(ROOM, {"name": "after"}, after))
    verdict = judgement.verdict
    assert judgement.outcome is UpdateOutcome.APPLIED
    assert verdict.failures == [] and verdict.ok
    assert all(passed for _, _, passed in verdict.checked)
    checked = {(rule, operation) for rule, operation, _ in verdict.checked}
    assert {("server.never_5xx", PATCH), ("status.documented_codes", PATCH), ("shape.meeting_room_schema", PATCH),
            ("shape.meeting_room_schema", "GET /meeting_rooms/{sid}"), ("patch.partial_update", PATCH),
            ("patch.response_is_updated_object", PATCH), ("read_paths.list_matches_get", "GET /meeting_rooms")} <= checked
    assert ("bad_input.unknown_field", PATCH) not in checked  # no unknown field sent: the check did not apply
    assert judgement.after == after


def test_a_patch_that_resets_an_omitted_field_breaks_partial_update():
    """A name-only PATCH, after which `properties` is back to its default: a typed failure, the judgement stops."""
    after = {**ROOM, "name": "after", "properties": {}}
    judgement = updates.judge_update(context(), patched(ROOM, {"name": "after"}, after))
    failure = only_failure(judgement.verdict)
    assert (failure.rule, failure.operation, failure.situation) == \
        ("patch.partial_update", PATCH, "accepted PATCH, room read back")
    assert failure.key == ("patch.partial_update", PATCH, "accepted PATCH, room read back")
    assert "properties" in failure.detail
    assert failure.expected["properties"] == {"conference_start_wait": "360"} and failure.observed["properties"] == {}
    assert judgement.outcome is not UpdateOutcome.APPLIED
    rules_checked = [rule for rule, _, _ in judgement.verdict.checked]
    assert "patch.response_is_updated_object" not in rules_checked  # later checks are not counted


def test_a_list_item_that_differs_from_get_breaks_list_matches_get():
    after = {**ROOM, "name": "after"}
    stale = {**after, "name": "before"}
    judgement = updates.judge_update(context(), patched(ROOM, {"name": "after"}, after, listed=stale))
    failure = only_failure(judgement.verdict)
    assert (failure.rule, failure.operation, failure.situation) == \
        ("read_paths.list_matches_get", "GET /meeting_rooms", f"after {PATCH}: the list item differs from GET by sid")
    assert (failure.expected["name"], failure.observed["name"]) == ("after", "before")
    missing = updates.judge_update(context(), patched(ROOM, {"name": "after"}, after, listed=None))
    assert "not in the account's list" in only_failure(missing.verdict).detail
    unread = updates.judge_update(context(), patched(ROOM, {"name": "after"}, after, listed=LIST_NOT_READ))
    assert unread.outcome is UpdateOutcome.APPLIED
    assert "read_paths.list_matches_get" not in [rule for rule, _, _ in unread.verdict.checked]  # not read: not counted


def test_a_refused_patch_that_changed_the_room_breaks_rejected_changes_nothing():
    body = {"name": 5}  # invalid: name is a string or null
    assert MODEL.invalid_value_reasons(body)
    changed = {**ROOM, "properties": {}}
    evidence = UpdateEvidence("PATCH", body, ROOM, Answer(400, {"message": "invalid name", "errors": []}),
                              after_answer=Answer(200, changed))
    judgement = updates.judge_update(context(), evidence)
    failure = only_failure(judgement.verdict)
    assert (failure.rule, failure.operation, failure.situation) == \
        ("patch.rejected_changes_nothing", PATCH, "PATCH was refused with 400 but the room changed")
    assert failure.expected["properties"] == ROOM["properties"] and failure.observed["properties"] == {}
    assert judgement.outcome is UpdateOutcome.REJECTED
    unchanged = updates.judge_update(context(), UpdateEvidence("PATCH", body, ROOM, evidence.answer,
                                                               after_answer=Answer(200, ROOM)))
    assert unchanged.verdict.failures == [] and unchanged.outcome is UpdateOutcome.REJECTED
    assert ("patch.rejected_changes_nothing", PATCH, True) in unchanged.verdict.checked


def test_an_unexplained_409_breaks_conflict_explained():
    body = {"access_codes": [{"access_code": "246813", "role": "host"}]}
    refusal = Answer(409, {"message": "access code in use", "errors": []})
    evidence = UpdateEvidence("PATCH", body, ROOM, refusal, after_answer=Answer(200, ROOM), holders=[])
    judgement = updates.judge_update(context(), evidence)
    failure = only_failure(judgement.verdict)
    assert (failure.rule, failure.operation, failure.situation) == ("uniqueness.conflict_explained", PATCH, "PATCH answered 409")
    assert failure.observed == {"access_codes": body["access_codes"]}
    holder = {"room": "r2", "scope": (ROOM["account_sid"], None), "same_scope": True, "codes": ["246813"]}
    explained = updates.judge_update(context(), UpdateEvidence("PATCH", body, ROOM, refusal, after_answer=Answer(200, ROOM),
                                                               holders=[holder]))
    assert explained.verdict.failures == [] and explained.outcome is UpdateOutcome.CONFLICT
    assert ("uniqueness.conflict_explained", PATCH, True) in explained.verdict.checked


def test_a_pinned_behaviour_the_target_does_not_take_is_a_failure_of_its_rule():
    """Unpinned, merging `properties` is allowed (and observed); pinned to replace, it breaks the rule."""
    body = {"properties": {"conference_stop_wait": "10"}}
    merged = {**ROOM, "properties": {"conference_start_wait": "360", "conference_stop_wait": "10"}}
    free = updates.judge_update(context(), patched(ROOM, body, merged))
    assert free.outcome is UpdateOutcome.APPLIED and free.properties_mode is PropertiesMode.MERGE
    assert ("properties_on_patch", "merge", PATCH) in free.verdict.observed
    pinned = updates.judge_update(context(pins={"properties_on_patch": "replace"}), patched(ROOM, body, merged))
    failure = only_failure(pinned.verdict)
    assert (failure.rule, failure.operation, failure.situation) == \
        ("patch.properties_merge_or_replace", PATCH, "PATCH of `properties`")
    assert "pinned" in failure.detail
    assert failure.expected == {"replace": body["properties"]} and failure.observed == merged["properties"]
    settled = updates.judge_update(context(properties_settled=PropertiesMode.REPLACE, properties_evidence="curl x"),
                                   patched(ROOM, body, merged))
    assert "what the target did earlier in the run (curl x)" in only_failure(settled.verdict).detail


def test_a_pinned_error_body_shape_is_checked_under_its_rule():
    verdict = Verdict()
    found = answers.observe(verdict, context(pins={"error_body_shape": "message_errors"}), "error_body_shape",
                            answers.error_body_shape(Answer(400, {"error": "bad"})), PATCH)
    failure = only_failure(verdict)
    assert found == [failure]
    assert (failure.rule, failure.operation, failure.expected, failure.observed) == \
        ("status.error_body_is_json", PATCH, "message_errors", "other_object")
    assert ("error_body_shape", "other_object", PATCH) in verdict.observed
    unpinned = Verdict()
    assert answers.observe(unpinned, context(), "error_body_shape", "other_object", PATCH) == []
    assert unpinned.checked == [] and unpinned.observed == [("error_body_shape", "other_object", PATCH)]


def test_a_5xx_is_told_apart_gateway_page_or_application_error():
    gateway = answers.never_5xx(Answer(503, text="<html>down</html>", content_type="text/html"), PATCH, "PATCH of a room")
    assert gateway[0].rule == "server.never_5xx" and "gateway/proxy answer" in gateway[0].detail
    application = answers.never_5xx(Answer(500, {"message": "boom"}), PATCH, "PATCH of a room")
    assert "application error" in application[0].detail
    kong = Answer(502, {"message": "An invalid response was received from the upstream server"})
    kong.headers["Via"] = "1.1 kong/3.4.2"
    assert "gateway/proxy answer (application/json, Via: 1.1 kong/3.4.2)" in answers.never_5xx(kong, PATCH, "x")[0].detail
    assert "gateway status with a JSON body" in answers.never_5xx(Answer(502, {"m": 1}), PATCH, "x")[0].detail
    assert answers.never_5xx(Answer(404, {"message": "no"}), PATCH, "x") == []


def test_every_registered_judge_names_a_registered_rule():
    assert JUDGES and set(JUDGES) <= set(RULES)
    assert all(function.rule_id in JUDGES for functions in JUDGES.values() for function in functions)


def _imports(path: Path) -> set[str]:
    """The modules a source file imports (relative imports as written, e.g. `..client`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.add(module)
            found |= {f"{module}.{alias.name}" if node.module else module + alias.name  # `from .. import client`
                      for alias in node.names}
    return found


JUDGE_MODULES = sorted(JUDGES_DIR.glob("*.py"))
IO_MODULES = ("client", "transport", "registry", "curl")  # the suite's HTTP side (client.py and what it is made of)


@pytest.mark.parametrize("path", JUDGE_MODULES, ids=[p.name for p in JUDGE_MODULES])
def test_a_judge_module_imports_neither_requests_nor_the_client(path):
    imported = _imports(path)
    assert imported, "nothing parsed: the test would prove nothing"
    offending = sorted(name for name in imported
                       if name.lstrip(".").split(".")[0] in ("requests", "urllib3", "http")
                       or any(name.split(".")[-1] == module or f".{module}." in name for module in IO_MODULES))
    assert offending == [], f"judges/{path.name} imports {offending}: judges do no I/O"


def test_the_judge_modules_load_without_requests_or_the_client():
    """Also not through another module: a fresh interpreter that loads every judge has neither."""
    names = [f"meeting_room_contract.judges.{p.stem}" for p in JUDGE_MODULES if p.stem != "__init__"]
    code = ("import importlib, sys\n"
            f"for name in {names!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'requests' or m.startswith('requests.') "
            f"or m in {[f'meeting_room_contract.{module}' for module in IO_MODULES]!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_import_check_sees_the_client():
    """The check above would find `from ..client import ...` and `import requests`."""
    assert any(name.split(".")[-1] == "client" for name in _imports(JUDGES_DIR.parent / "actions.py"))
    assert "requests" in _imports(JUDGES_DIR.parent / "actions.py")


def test_a_refused_patch_whose_room_reads_back_invalid_is_counted_on_the_get():
    """Each failure is counted under its own operation (the report groups checks and failures alike)."""
    evidence = UpdateEvidence("PATCH", {"name": 5}, ROOM, Answer(400, {"message": "invalid name", "errors": []}),
                              after_answer=Answer(200, {**ROOM, "access_codes": "none"}))
    failure = only_failure(updates.judge_update(context(), evidence).verdict)
    assert (failure.rule, failure.operation, failure.situation) == \
        ("shape.meeting_room_schema", "GET /meeting_rooms/{sid}", "rejected PATCH: GET of the room")


def test_a_refusal_in_front_of_the_api_is_told_from_the_apis_own():
    """A 403 (or 406/413/414/431/451) with an HTML page is a firewall's or proxy's: the API never saw the
    request. One with a JSON object is the API's, unless its Server/Via signature is none of the API's
    2xx answers (a proxy answering JSON itself); other statuses are always the API's."""
    api = frozenset({("BaseHTTP/0.6 Python/3.11", None)})
    waf = Answer(403, text="<html>403 Forbidden</html>", content_type="text/html")
    waf.headers["Server"] = "awselb/2.0"
    assert "HTTP 403 text/html, Server: awselb/2.0" == answers.infrastructure_refusal(waf, api)
    own = Answer(403, {"message": "read-only field"})
    own.headers["Server"] = "BaseHTTP/0.6 Python/3.11"
    assert answers.infrastructure_refusal(own, api) is None
    assert answers.infrastructure_refusal(own, None) is None  # nothing known of the API's signature: the API's
    proxy_json = Answer(403, {"message": "Forbidden"})  # no Server header: not signed as the API signs
    assert "signed unlike the API's answers" in answers.infrastructure_refusal(proxy_json, api)
    assert answers.infrastructure_refusal(Answer(422, text="<html></html>", content_type="text/html"), api) is None
    assert answers.infrastructure_refusal(Answer(413, text="", content_type=""), api).startswith("HTTP 413")


def test_a_schemathesis_500_is_server_never_5xx_whatever_order_its_failures_come_in():
    """schemathesis lists "Server error" and "Undocumented status code" of one 500 in either order; the
    rule is the most basic kind's (one bug, one group), and the message lists that kind first."""
    from meeting_room_contract import generation

    server_error, undocumented = type("ServerError", (), {})(), type("UndefinedStatusCode", (), {})()
    for failures in ([server_error, undocumented], [undocumented, server_error]):
        assert generation.failure_rule(failures) == "server.never_5xx"
        assert generation._in_rule_order(failures) == [server_error, undocumented]
    assert generation.failure_rule([undocumented]) == "status.documented_codes"
    assert generation.failure_rule([type("JsonSchemaError", (), {})()]) == generation.CONFORMANCE_RULE
