"""The honest summary: failures grouped by rule and situation, caps said out loud; the violation text."""

from __future__ import annotations

import json

from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import constants_from_module

from meeting_room_contract import observations, report
from meeting_room_contract.judges import ContractViolation, Failure, Verdict
from meeting_room_contract.judges.base import field_diff
from meeting_room_contract.mock import server
from meeting_room_contract.observations import Recorder, merge, situation, write_summary
from meeting_room_contract.plugin.reporting import hypothesis_notes, violation_text

SID_A, SID_B = "9b776e1e-77f0-559d-9bc9-d71631fb297b", "c7419fa7-dac1-5b88-a300-ac1d4b9e30a1"


def _violation(summary: str) -> ContractViolation:
    return ContractViolation("read_only.never_applied", summary)


def test_situation_normalises_sids_numbers_quoted_values_lists_and_objects():
    one = situation(f"after an accepted PATCH with {{'account_sid': '{SID_A}'}} the room is no longer found under its sid {SID_B}")
    two = situation(f"after an accepted PATCH with {{'account_sid': '', 'meeting_room_sid': '{SID_A}'}} the room is no "
                    f"longer found under its sid {SID_A}")
    assert one == two == "after an accepted PATCH with {…} the room is no longer found under its sid <sid>"
    assert situation("expected HTTP 400 or 422, got 500 after 3 attempt(s)") == "expected HTTP 400 or 422, got 500 after <n> attempt(s)"
    assert situation("access_codes: expected [('1', 'host')], observed []") == "access_codes: expected […], observed []"


def test_recorder_counts_every_failure_in_one_group_per_situation():
    recorder = Recorder()
    for index in range(82):
        recorder.current_test = f"contracts/test_read_only.py::test_{index % 3}"
        recorder.checked("read_only.never_applied", "PATCH /meeting_rooms/{sid}", False,
                         _violation(f"accepted PATCH applied read-only value(s) {{'account_sid': '{index}'}}"))
    recorder.checked("read_only.never_applied", "PUT /meeting_rooms/{sid}", False, _violation("another situation"))
    data = recorder.to_dict()
    assert data["failures_total"] == 83
    groups = {(g["operation"], g["situation"]): g for g in data["failure_groups"]}
    assert len(groups) == 2
    big = groups[("PATCH /meeting_rooms/{sid}", "accepted PATCH applied read-only value(s) {…}")]
    assert big["count"] == 82 and len(big["tests"]) == 3
    assert big["example"]["text"].startswith("CONTRACT VIOLATION [read_only.never_applied]")


def test_merge_adds_up_groups_of_workers_and_keeps_old_parts_working():
    parts = []
    for worker in range(2):
        recorder = Recorder()
        recorder.current_test = f"t{worker}"
        for _ in range(3):
            recorder.checked("server.never_5xx", "PUT /meeting_rooms/{sid}", False, _violation(f"HTTP 500 on try {worker}"))
        parts.append(recorder.to_dict())
    parts.append({"checks": [], "failures": []})  # a part written before groups existed
    merged = merge(parts)
    assert merged["failures_total"] == 6
    [group] = merged["failure_groups"]
    assert group["count"] == 6 and group["tests"] == ["t0", "t1"]
    assert set(merged) >= {"checks", "behaviours", "drift", "failures", "call_failures", "requests_sent"}


def test_markdown_says_what_is_capped(tmp_path):
    groups = [{"rule": "server.never_5xx", "operation": "GET /x", "situation": f"situation {i}", "count": 2,
               "tests": [f"t{j}" for j in range(5)], "example": {"summary": "s", "reproduction": "curl -X GET x"}}
              for i in range(observations.MD_GROUPS_SHOWN + 10)]
    doc = {"checks": [], "behaviours": {}, "drift": {}, "failures": [{}] * 200, "failure_groups": groups, "failures_total": 240,
           "call_failures": [{"test": "contracts/test_x.py::test_fixture_broke", "rules": []}]}
    _, html_path = write_summary(doc, tmp_path, {"target": "http://example.test", "run_id": "r", "profile": "gate"})
    md = (tmp_path / "contract-summary.md").read_text()
    assert "1 failed test(s); 60 failure group(s) (one per root cause); 240 failed check(s)" in md
    assert "keeps the first 200 of 240 failures individually" in md
    assert "10 more group(s) not shown here" in md
    assert "tests (5): `t0`, `t1`, `t2` and 2 more" in md
    assert md.count("```sh") == observations.MD_GROUPS_SHOWN  # one example curl per group shown
    assert "- `contracts/test_x.py::test_fixture_broke`" in md  # a failure no rule explains is not lost
    assert json.loads((tmp_path / "contract-summary.json").read_text())["failures_total"] == 240
    assert (tmp_path / report.REPORT_NAME).is_file() and html_path == tmp_path / report.REPORT_NAME


def test_report_hides_credentials_in_a_target_url():
    assert report.public_target({"target": "https://user:secret@api.example.test:8443/conference/v2"}) == \
        "https://api.example.test:8443/conference/v2"
    assert "secret" not in report.render({"target": "https://user:secret@api.example.test/v2", "checks": []})


def test_violation_text_shows_only_the_fields_that_differ():
    text = str(ContractViolation("patch.partial_update", "room read back differs",
                                 expected={"name": "a", "properties": {"k": "1", "same": "x"}, "did_group_sid": None},
                                 observed={"name": "a", "properties": {"k": "2", "same": "x"}, "did_group_sid": None}))
    assert text.splitlines()[-3:] == ["Expected vs observed (- expected, + observed; only what differs):",
                                      '  - properties.k: "1"', '  + properties.k: "2"']
    assert field_diff({"a": 1}, {"b": 1}) == ["  - a: 1", "  + a: (absent)", "  - b: (absent)", "  + b: 1"]


def test_hypothesis_notes_keep_the_example_and_blob_without_fixture_reprs():
    error = _violation("x")
    for note in ["Failing test case: test_patch(\n    client=,\n    rooms=,\n)", "Draw 1 (PATCH body): {}",
                 "Explanation:", "    These lines were always and only run by failing test cases:", "        checks.py:38",
                 "You can reproduce this test case by temporarily adding @reproduce_failure('6.170.15', b'AA==')"]:
        error.add_note(note)
    assert hypothesis_notes(error) == ["Failing test case: test_patch()", "Draw 1 (PATCH body): {}",
                                       "You can reproduce this test case by temporarily adding @reproduce_failure('6.170.15', b'AA==')"]
    steps = _violation("x")
    steps.add_note("state = MeetingRoomLifecycle()\nA_0 = state.RANDOM__POST_meeting_rooms(input=initial())\n"
                   "state.POST_rooms_Patch(input=StepInput(case=,\n transition=Transition(id='POST /meeting_rooms -> [200] "
                   "PatchCreatedRoom -> PATCH /meeting_rooms/{meeting_room_sid}',\n  parent_id='x',\n  request_body=None),\n"
                   " applied_parameters=[]))\nstate.teardown()")
    assert hypothesis_notes(steps) == ["state = MeetingRoomLifecycle()", "A_0 = state.RANDOM__POST_meeting_rooms(input=initial())",
                                       "state.POST_rooms_Patch(...)  # POST /meeting_rooms -> [200] PatchCreatedRoom -> "
                                       "PATCH /meeting_rooms/{meeting_room_sid}", "state.teardown()"]
    group = ExceptionGroup("Hypothesis found 2 distinct failures.", [_violation("one"), _violation("two")])
    text = violation_text(group)
    assert text.startswith("Hypothesis found 2 distinct failures.") and "--- 2 of 2 ---" in text


def test_generated_data_draws_no_constants_from_the_project_source():
    """The project's modules are full of string literals; hypothesis must not draw from them (in contract
    runs: the plugin is passive elsewhere, so this test imports the switch a contract run imports)."""
    from meeting_room_contract.plugin import hypothesis_limits  # noqa: F401 - importing it is the switch
    assert constants_from_module(server).strings  # there is something to leak (the mock's messages) ...
    assert not providers._get_local_constants().strings  # ... and the profiles' switch keeps it out


def test_a_check_that_could_not_be_judged_is_shown_not_counted(make_run):
    """An accepted `did_group_sid` with the account's DID groups not read: recorded as not checked,
    never as run or passed. (An account read to have none is known: see the next test.)"""
    from meeting_room_contract import actions
    from meeting_room_contract.rooms import RoomFactory

    run = make_run()
    client = run.target.client("primary")
    run.did_groups = None  # the account's DID groups were not read
    group = client.did_group_sids()[0]  # one the mock accepts
    room = RoomFactory(run, client).create({}, label="room")
    _, response, _ = actions.send_update(run, client, room["meeting_room_sid"], "PATCH", {"did_group_sid": group})
    assert response.status_code == 200
    part = run.recorder.to_dict()
    assert [row for row in part["checks"] if row["rule"] == "bad_input.rejected"] == []
    assert list(part["not_checked"]) == ["bad_input.rejected"]
    merged = merge([part, part])
    assert sum(merged["not_checked"]["bad_input.rejected"].values()) == 2
    assert "could not be judged" in observations._markdown({**merged, "behaviours": {}, "drift": {}})


def test_an_account_read_to_have_no_did_groups_is_known_and_a_known_group_is_no_counted_pass(make_run):
    """An empty set of DID groups read from the target is knowledge, not "unknown": an accepted
    `did_group_sid` then names nothing of the account (a violation). An accepted DID group the run knows
    exists could not have failed the check: it is not counted as a pass."""
    from meeting_room_contract.judges import Context
    from meeting_room_contract.judges.updates import did_group_checks

    run = make_run()
    group = run.target.client("primary").did_group_sids()[0]
    none_known = Context(model=run.model, known_did_groups=frozenset())
    assert [check()[0].rule for check in did_group_checks(none_known, "PATCH", {"did_group_sid": group})] == \
        ["bad_input.rejected"]
    known = Context(model=run.model, known_did_groups=frozenset({group}))
    assert did_group_checks(known, "PATCH", {"did_group_sid": group}) == []


def test_typed_failures_group_by_their_situation_not_by_their_prose(make_run):
    """A judge's failure is grouped by its (rule, operation, situation) fields, whatever its detail says."""
    run = make_run()
    verdict = Verdict()
    for detail in ("name: expected 'a', observed 'b'", "access_codes differ entirely", "properties.k: 1 vs 2"):
        verdict.add("patch.partial_update", "PATCH /meeting_rooms/{sid}",
                    [Failure("patch.partial_update", "PATCH /meeting_rooms/{sid}", "accepted PATCH, room read back", detail)])
    run.record(verdict, lambda failure: ContractViolation(failure))
    [group] = run.recorder.to_dict()["failure_groups"]
    assert (group["rule"], group["operation"], group["situation"], group["count"]) == \
        ("patch.partial_update", "PATCH /meeting_rooms/{sid}", "accepted PATCH, room read back", 3)


def test_a_replay_hiccup_without_a_violation_names_the_error_that_came_first():
    """Hypothesis's "could not reproduce" hides the first error: the failure text names it (type,
    message, where), and the run's status does not claim contract violations when it recorded none."""
    from hypothesis.errors import FlakyStrategyDefinition

    from meeting_room_contract.plugin.reporting import flaky_text
    from meeting_room_contract.plugin.status import EXIT_VIOLATIONS, RunStatus, meaning

    def setup_refused() -> None:
        raise RuntimeError("creating the room was refused 409")

    try:
        try:
            setup_refused()
        except RuntimeError:
            raise FlakyStrategyDefinition("Inconsistent data generation!")
    except FlakyStrategyDefinition as error:
        text, found = flaky_text(error)
    assert found == []
    assert "--- error 1 of 1 seen before ---\nRuntimeError: creating the room was refused 409 (tests/test_summary.py:" in text
    assert meaning(RunStatus(final=EXIT_VIOLATIONS, violations=0)).startswith("tests failed without a contract violation")
    assert meaning(RunStatus(final=EXIT_VIOLATIONS, violations=2)) == "contract violations"
