"""Two runs in one process do not meet: each `Run` has its own target, recorder, codes in use,
PUT style, pins and properties mode (issue 15, item 1)."""

from __future__ import annotations

import pytest

from meeting_room_contract import actions
from meeting_room_contract.judges import ContractViolation
from meeting_room_contract.model import PropertiesMode
from meeting_room_contract.rooms import RoomFactory, load_codes_in_use, probe_put_style

PIN = {"properties_on_patch": "replace"}


def _counts(run, rule_id: str) -> dict[str, int]:
    """{"run": n, "passed": n, "failed": n} of a rule, over every operation, in a run's recorder."""
    total = {"run": 0, "passed": 0, "failed": 0}
    for row in run.recorder.to_dict()["checks"]:
        if row["rule"] == rule_id:
            for key in total:
                total[key] += row.get(key, 0)
    return total


def test_two_runs_in_one_process_share_nothing(make_run):
    pins = dict(PIN)
    plain = make_run()
    faulty = make_run(faults=("patch_response_stale",), variants=("put_requires_read_only_fields", "properties_replace"),
                      pins=pins)
    pins["properties_on_patch"] = "merge"  # the run keeps its own copy of what it was given
    a, b = plain.target.client("primary"), faulty.target.client("primary")
    assert plain.target.mock is not faulty.target.mock and a.base_url != b.base_url
    assert plain.target.registry is not faulty.target.registry

    # pins: one run's pins are its own
    assert plain.pins == {} and plain.context().pins == {}
    assert faulty.pins == PIN and faulty.context().pins == PIN

    # codes in use: each run learns its own account's codes
    factory_a, factory_b = RoomFactory(plain, a), RoomFactory(faulty, b)
    room_a = factory_a.create({"access_codes": [{"access_code": "111111", "role": "host"}],
                               "properties": {"conference_start_wait": "360"}})
    room_b = factory_b.create({"access_codes": [{"access_code": "222222", "role": "host"}],
                               "properties": {"conference_start_wait": "360"}})
    load_codes_in_use(plain, a)
    load_codes_in_use(faulty, b)
    assert "111111" in plain.codes and "222222" not in plain.codes
    assert "222222" in faulty.codes and "111111" not in faulty.codes

    # PUT style: probed per run, from each run's own target
    plain.did_groups, faulty.did_groups = frozenset(a.did_group_sids()), frozenset(b.did_group_sids())
    plain.put_style = probe_put_style(plain, a, factory_a, sorted(plain.did_groups))
    faulty.put_style = probe_put_style(faulty, b, factory_b, sorted(faulty.did_groups))
    assert plain.put_style.read_only_required is False and faulty.put_style.read_only_required is True
    assert plain.recorder.behaviours["put_read_only_fields"] == {"optional": 1}
    assert faulty.recorder.behaviours["put_read_only_fields"] == {"required": 1}

    # properties mode: settled per run (the plain mock merges; the other replaces, as pinned)
    body = {"properties": {"conference_stop_wait": "10"}}
    _, _, outcome = actions.send_update(plain, a, room_a["meeting_room_sid"], "PATCH", body)
    assert outcome.value == "applied"
    with pytest.raises(ContractViolation) as raised:  # the fault: the PATCH answer is stale
        actions.send_update(faulty, b, room_b["meeting_room_sid"], "PATCH", body)
    assert raised.value.rule == "patch.response_is_updated_object"
    assert plain.properties_settled is PropertiesMode.MERGE
    assert faulty.properties_settled is PropertiesMode.REPLACE
    assert plain.context().properties_allowed() == [PropertiesMode.MERGE]
    assert faulty.context().properties_allowed() == [PropertiesMode.REPLACE]

    # recorders: each run counts only its own checks, failures and behaviours
    assert plain.recorder is not faulty.recorder
    assert plain.recorder.to_dict()["failures_total"] == 0
    faulty_doc = faulty.recorder.to_dict()
    assert faulty_doc["failures_total"] == 1
    assert [group["rule"] for group in faulty_doc["failure_groups"]] == ["patch.response_is_updated_object"]
    assert _counts(plain, "patch.response_is_updated_object") == {"run": 1, "passed": 1, "failed": 0}
    assert _counts(faulty, "patch.response_is_updated_object") == {"run": 1, "passed": 0, "failed": 1}
    assert plain.recorder.behaviours["properties_on_patch"] == {"merge": 1}
    assert "merge" not in faulty.recorder.behaviours.get("properties_on_patch", {})

    # requests: each target counts its own
    assert plain.target.counter is not faulty.target.counter
    sent_a, sent_b = plain.target.counter.value, faulty.target.counter.value
    a.get_room(room_a["meeting_room_sid"])
    assert (plain.target.counter.value, faulty.target.counter.value) == (sent_a + 1, sent_b)


def test_a_pin_of_one_run_is_not_checked_in_another(make_run):
    """The same merging PATCH: a violation in the run that pins replace, nothing in the run that does not."""
    pinned, free = make_run(pins=PIN), make_run()
    body = {"properties": {"conference_stop_wait": "10"}}
    for run in (pinned, free):
        client = run.target.client("primary")
        room = RoomFactory(run, client).create({"properties": {"conference_start_wait": "360"}})
        if run is pinned:
            with pytest.raises(ContractViolation) as raised:
                actions.send_update(run, client, room["meeting_room_sid"], "PATCH", body)
            assert raised.value.rule == "patch.properties_merge_or_replace" and "pinned" in raised.value.summary
        else:
            actions.send_update(run, client, room["meeting_room_sid"], "PATCH", body)
    assert _counts(pinned, "patch.properties_merge_or_replace")["failed"] == 1
    assert _counts(free, "patch.properties_merge_or_replace") == {"run": 1, "passed": 1, "failed": 0}
    assert free.properties_settled is PropertiesMode.MERGE and pinned.properties_settled is None
