"""The transition table is built from the spec (no field named in its code) and its values are plain."""

from __future__ import annotations

import itertools
from collections import Counter
from types import SimpleNamespace

import jsonschema

from meeting_room_contract import evolution, model, spec, strategies, transitions
from meeting_room_contract.run import CodeBook

GROUPS = ["group-one", "group-two"]


def _run(spec_obj=None):
    spec_obj = spec_obj or spec.default()
    return SimpleNamespace(model=model.Model(spec_obj), spec=spec_obj, codes=CodeBook(), strategies={})


def _names():
    serial = itertools.count(1)
    return lambda: f"contract-test-x transit {next(serial)}"


def test_default_spec_table():
    run = _run()
    table = transitions.table(run)
    assert len({case.id for case in table}) == len(table) == 40
    assert Counter(case.method for case in table) == {"POST": 8, "PUT": 16, "PATCH": 16}
    forms = {field: [label for label, _ in transitions.empty_forms(run, field)] for field in run.model.MODIFIABLE_FIELDS}
    # an empty string names no DID group; the body schemas type `name` as a string (null is a wrong type)
    assert forms == {"access_codes": ["empty-array"], "properties": ["empty-object"], "did_group_sid": ["null"],
                     "name": ["empty-string"]}
    for field in run.model.MODIFIABLE_FIELDS:
        for method in ("PATCH", "PUT"):
            names = [case.transition for case in table if case.field == field and case.method == method]
            assert names == [f"{forms[field][0]}-to-value", "value-to-another", f"value-to-{forms[field][0]}", "value-to-same"]


def test_rules_of_the_rows():
    run = _run()
    by_id = {case.id: case for case in transitions.table(run)}
    assert by_id["PUT-name:value-to-same"].rule(True) == "put.idempotent"
    assert by_id["PATCH-name:value-to-same"].rule(True) == "patch.partial_update"
    assert by_id["PUT-access_codes:value-to-empty-array"].rule(True) == "put.full_replacement"
    assert by_id["PUT-name:value-to-empty-string"].rule(False) == "round_trip.exact_values"  # an edge value
    assert by_id["POST-properties:create-with-empty-object"].rule(True) == "round_trip.exact_values"


def test_resolved_values_are_plain_and_the_transition_they_name():
    run = _run()
    for case in transitions.table(run):
        made = transitions.resolve(run, case, GROUPS, _names())
        assert not isinstance(made, str), made
        ends = [made.end] if case.start is None else [made.start, made.end]
        for slot, value in zip([case.end] if case.start is None else [case.start, case.end], ends):
            if slot.kind == "value":
                assert strategies.is_plain_field_value(run, case.field, value), (case.id, value)
                assert value not in transitions.EMPTY_VALUES, case.id
            else:
                assert value == dict(transitions.EMPTY_FORMS)[slot.which], case.id
        if case.transition == "value-to-another":
            assert made.start != made.end, case.id
        if case.transition == "value-to-same":
            assert made.start == made.end, case.id
        if case.method != "POST":  # every other field plain and non-empty: the start state is fully known
            assert set(made.others) == set(run.model.MODIFIABLE_FIELDS) - {case.field}
            assert not run.model.invalid_value_reasons(made.start_state(case.field)), case.id


def test_rows_without_a_did_group_are_not_checked_with_a_reason():
    run = _run()
    by_id = {case.id: case for case in transitions.table(run)}
    assert "no value" in transitions.resolve(run, by_id["PATCH-did_group_sid:null-to-value"], [], _names())
    assert "no other value" in transitions.resolve(run, by_id["PUT-did_group_sid:value-to-another"], GROUPS[:1], _names())
    made = transitions.resolve(run, by_id["PUT-name:value-to-another"], [], _names())  # other fields: null DID group
    assert made.others["did_group_sid"] is None


def test_a_new_field_gets_its_rows(tmp_path):
    """The evolved spec's integer field (no empty form) gets value rows on every path, with two
    different values its schema accepts."""
    integer_field = next(evo for evo in evolution.EVOLUTIONS if evo.change is evolution.add_integer_field)
    run = _run(spec.checked(integer_field.write(tmp_path)))
    rows = [case for case in transitions.table(run) if case.field == "max_participants"]
    assert sorted(case.id for case in rows) == sorted(["POST-max_participants:create-with-value",
                                                       "PUT-max_participants:value-to-another",
                                                       "PUT-max_participants:value-to-same",
                                                       "PATCH-max_participants:value-to-another",
                                                       "PATCH-max_participants:value-to-same"])
    schema = spec.strip_extensions(run.spec.resolved(spec.PUT_SCHEMA)["properties"]["max_participants"])
    made = transitions.resolve(run, next(case for case in rows if case.transition == "value-to-another"), GROUPS, _names())
    assert made.start != made.end
    assert all(jsonschema.Draft202012Validator(schema).is_valid(value) for value in (made.start, made.end))


def test_a_read_only_field_has_no_rows(tmp_path):
    name_read_only = next(evo for evo in evolution.EVOLUTIONS if evo.change is evolution.make_name_read_only)
    run = _run(spec.checked(name_read_only.write(tmp_path)))
    assert not [case for case in transitions.table(run) if case.field == "name"]
