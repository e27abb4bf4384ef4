"""Issue 26 item 2: one bug, one group. A failure is attributed to the most basic rule that explains it
(`judges.causes`, pure), and the groups are folded by root cause (`observations.fold_groups`)."""

from __future__ import annotations

import json

import pytest

from meeting_room_contract import spec
from meeting_room_contract.judges import causes
from meeting_room_contract.model import Model
from meeting_room_contract.observations import fold_groups, merge

SID = "11111111-2222-3333-4444-555555555555"
ACCOUNT = "99999999-2222-3333-4444-555555555555"


@pytest.fixture(scope="module")
def model() -> Model:
    return Model(spec.default())


def _room(**fields):
    room = {"access_codes": [{"access_code": "123456", "role": "host"}], "properties": {"conference_x_policy": "h"},
            "did_group_sid": None, "name": "kept name", "account_sid": ACCOUNT, "meeting_room_sid": SID}
    return {**room, **fields}


def _step(method, path, role, body=None, answer=None, status=200, concurrent=None, created=None):
    return {"method": method, "path": path, "role": role, "body": None if body is None else json.dumps(body),
            "answer": "" if answer is None else json.dumps(answer), "status": status, "concurrent": concurrent,
            "created": created}


def _story(model, rule, expected, observed, steps, detail=""):
    return {"rule": rule, "operation": "PATCH /meeting_rooms/{sid}", "situation": "accepted PATCH, room read back",
            "detail": detail, "expected": model.comparable(expected), "observed": model.comparable(observed),
            "steps": steps}


def test_a_patch_that_wipes_fields_it_did_not_send_is_the_cause_whatever_rule_saw_it(model):
    before, wiped = _room(), _room(name="edge ✓", access_codes=[], properties={})
    steps = [_step("POST", "/meeting_rooms", "create", {"name": "kept name"}, before, created=SID),
             _step("PATCH", f"/meeting_rooms/{SID}", "failing", {"name": "edge ✓"}, wiped),
             _step("GET", f"/meeting_rooms/{SID}", "read-back", answer=wiped)]
    doc = _story(model, "round_trip.exact_values", {**before, "name": "edge ✓"}, wiped, steps)
    clue = causes.clue(model, doc)
    assert set(clue.unsent) == {"properties", "access_codes"}
    cause = causes.cause("round_trip.exact_values", doc["operation"], clue.tag, [])
    assert (cause.rule, cause.operation) == ("patch.partial_update", "PATCH /meeting_rooms/{sid}")
    assert cause.line.startswith("a PATCH changed fields it did not send: ")


def test_a_round_trip_that_mangles_the_sent_value_is_its_own_cause(model):
    before = _room()
    trimmed = _room(name="edge")
    steps = [_step("GET", f"/meeting_rooms/{SID}", "before", answer=before),
             _step("PATCH", f"/meeting_rooms/{SID}", "failing", {"name": " edge "}, trimmed),
             _step("GET", f"/meeting_rooms/{SID}", "read-back", answer=trimmed)]
    doc = _story(model, "round_trip.exact_values", {**before, "name": " edge "}, trimmed, steps,
                 detail="name: expected ' edge ', observed 'edge'")
    tag = causes.clue(model, doc).tag
    assert tag == "text:observed is expected without its leading and trailing whitespace"  # no PATCH wiped a field
    assert causes.cause("round_trip.exact_values", doc["operation"], tag, []).rule == "round_trip.exact_values"


def test_a_text_change_seen_by_other_rules_is_the_round_trip_group_when_plain_round_trips_show_it(model):
    """One bug, one ticket: a server that stores `Ā` as `?` fails round trips, request forms and PUTs alike;
    each of those failures is the one `round_trip.exact_values` group when the run's plain round trips
    showed that very change; seen by another rule alone (a list item, a request form), it is that rule's."""
    doc = _story(model, "put.full_replacement", {**_room(), "name": "Āb"}, _room(name="?b"), [],
                 detail="name: expected 'Āb', observed '?b'")
    tag = causes.clue(model, doc).tag
    assert tag == "text:observed is expected with non-ASCII characters replaced by '?'"
    folded = causes.cause("put.full_replacement", "PUT /meeting_rooms/{sid}", tag, [], stored_text={tag})
    assert (folded.rule, folded.operation) == ("round_trip.exact_values", "every write path")
    assert "replaced by '?'" in folded.finding
    alone = causes.cause("read_paths.list_matches_get", "GET /meeting_rooms", tag, [], stored_text=set())
    assert alone.rule == "read_paths.list_matches_get"
    stale = _story(model, "patch.response_is_updated_object", {**_room(), "name": "AB"}, _room(name="ab"), [],
                   detail="name: expected 'AB', observed 'ab'")
    assert causes.clue(model, stale).tag == ""  # case and truncation: a stale value may match them by chance


def test_a_lost_update_is_not_a_wiping_patch_but_a_patch_that_answers_with_defaults_is(model):
    """Concurrent PATCHes of disjoint fields: an answer may show the room before the others' PATCHes or
    after some of them (a race), never a value nobody sent."""
    before = _room(name="before", access_codes=[], properties={})
    group = [({"name": "new name"}, _room(name="new name", access_codes=[], properties={})),
             ({"properties": {"k_policy": "h"}}, _room(name="before", access_codes=[], properties={"k_policy": "h"}))]
    steps = [_step("GET", f"/meeting_rooms/{SID}", "before", answer=before)]
    steps += [_step("PATCH", f"/meeting_rooms/{SID}", "failing" if i == 0 else "update", body, answer, concurrent=1)
              for i, (body, answer) in enumerate(group)]
    after = group[1][1]
    steps.append(_step("GET", f"/meeting_rooms/{SID}", "read-back", answer=after))
    lost = _story(model, "concurrency.no_lost_update", {**before, "name": "new name", "properties": {"k_policy": "h"}},
                  after, steps)
    assert causes.clue(model, lost).tag == ""  # a lost write: the name holds the value before, not a made-up one

    wiping = [dict(s) for s in steps]
    wiping[2]["answer"] = json.dumps(_room(name=None, access_codes=[], properties={"k_policy": "h"}))
    wiping[3]["answer"] = wiping[2]["answer"]
    lost["steps"], lost["observed"] = wiping, model.comparable(json.loads(wiping[2]["answer"]))
    assert causes.clue(model, lost).unsent == ("name",)


def test_a_stale_patch_answer_is_judged_on_the_room_read_back(model):
    """The PATCH's answer shows an older room (another rule's failure); the room read back is right."""
    older, before = _room(name="older"), _room(name="before")
    patched = _room(name="before", access_codes=[])
    steps = [_step("GET", f"/meeting_rooms/{SID}", "before", answer=before),
             _step("PATCH", f"/meeting_rooms/{SID}", "failing", {"access_codes": []}, {**older, "access_codes": []}),
             _step("GET", f"/meeting_rooms/{SID}", "read-back", answer=patched)]
    doc = _story(model, "patch.response_is_updated_object", patched, {**older, "access_codes": []}, steps)
    assert causes.clue(model, doc).tag == ""


def test_a_field_the_target_never_returns_is_one_finding_once_the_run_knows(model):
    doc = {"rule": "put.full_replacement", "operation": "PUT /meeting_rooms/{sid}", "situation": "accepted PUT",
           "detail": "name: expected 'x', observed None", "expected": {"name": "x"}, "observed": {"name": None}}
    tag = causes.clue(model, doc).tag
    assert tag == "silent:name"
    assert causes.cause("put.full_replacement", doc["operation"], tag, []).rule == "put.full_replacement"  # returned: its own
    cause = causes.cause("put.full_replacement", doc["operation"], tag, ["name"])
    assert cause.rule == causes.NEVER_RETURNED_RULE and "never returns `name`" in cause.finding


def _raw(rule, operation, tag, test, count=1):
    example = {"test": test, "summary": f"{rule} summary", "text": f"CONTRACT VIOLATION [{rule}]"}
    return {"rule": rule, "operation": operation, "tag": tag, "fields": [], "situation": "accepted PATCH, room read back",
            "count": count, "tests": [test], "example": example, "shown_by_test": test,
            "situations": [{"situation": "accepted PATCH, room read back", "count": count, "tests": [test], "example": example}]}


def test_groups_fold_by_root_cause_in_the_order_the_run_reported_them():
    patch = "PATCH /meeting_rooms/{sid}"
    raw = [_raw("round_trip.exact_values", patch, "unsent:access_codes", "t_edge", 98),
           _raw("patch.partial_update", patch, "unsent:name", "t_patch", 14),
           _raw("concurrency.no_lost_update", patch, "unsent:name", "t_concurrency"),
           _raw("put.full_replacement", "PUT /meeting_rooms/{sid}", "", "t_put", 3)]
    reported = [{"test": test, "groups": [[g["rule"], g["operation"], g["tag"]]], "at": at}
                for at, (test, g) in enumerate([("t_patch", raw[1]), ("t_put", raw[3]), ("t_edge", raw[0]),
                                                ("t_concurrency", raw[2])])]
    groups = fold_groups(raw, reported, [])
    assert [(g["rule"], g["count"], len(g["tests"])) for g in groups] == [("patch.partial_update", 113, 3),
                                                                          ("put.full_replacement", 3, 1)]
    first = groups[0]
    assert first["example"]["test"] == "t_patch"  # the first failing test's example leads its group
    assert first["finding"].startswith("a PATCH changed fields it did not send: ")
    assert "round_trip.exact_values ×98" in first["finding"]
    assert any(s["situation"].startswith("seen as round_trip.exact_values") for s in first["situations"])
    # under xdist the controller's order wins over the workers' clocks
    later = fold_groups(raw, reported, [], arrival=["t_put", "t_patch"])
    assert [g["rule"] for g in later] == ["put.full_replacement", "patch.partial_update"]


def test_merge_resolves_a_never_returned_field_across_workers():
    put = "PUT /meeting_rooms/{sid}"
    part_a = {"raw_failure_groups": [_raw("put.full_replacement", put, "silent:name", "t1")], "fields_returned": ["sid"],
              "fields_documented": ["name", "sid"], "reported_failures": [], "failures_total": 1}
    part_b = {"raw_failure_groups": [_raw("round_trip.exact_values", put, "silent:name", "t2")], "fields_returned": ["sid"],
              "fields_documented": ["name", "sid"], "reported_failures": [], "failures_total": 1}
    [group] = merge([part_a, part_b])["failure_groups"]
    assert "never returns `name`" in group["finding"] and group["tests"] == ["t1", "t2"]
    part_b["fields_returned"] = ["sid", "name"]  # one worker saw it returned: each failure is its own
    assert [g["rule"] for g in merge([part_a, part_b])["failure_groups"]] == ["put.full_replacement", "round_trip.exact_values"]
