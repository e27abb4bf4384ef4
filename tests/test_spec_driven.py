"""The spec drives the suite: no field names in the model, the checks and the strategies; the
spec's extensions say what the model does; the spec diff names the rules a change affects."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from meeting_room_contract import evolution, model, rules, spec, specdiff

SOURCE = Path(spec.__file__).resolve().parent
SPEC_DRIVEN_MODULES = ["model.py", "strategies.py", "actions.py",
                       *sorted(str(p.relative_to(SOURCE)) for p in (SOURCE / "judges").glob("*.py"))]
JSON_SCHEMA_KEYWORDS = {"properties", "items", "type", "required", "enum", "pattern", "default", "additionalProperties"}


def _field_names() -> set[str]:
    """Every property name of the room, its items and the body schemas (fields and item fields)."""
    names: set[str] = set()

    def walk(schema):
        if not isinstance(schema, dict):
            return
        for name, sub in schema.get("properties", {}).items():
            names.add(name)
            walk(sub)
        for keyword in ("items", "additionalProperties"):
            walk(schema.get(keyword))

    for schema in (spec.ROOM_SCHEMA, spec.CREATE_SCHEMA, spec.PATCH_SCHEMA, spec.PUT_SCHEMA):
        walk(spec.default().resolved(schema))
    return names


@pytest.mark.parametrize("module", SPEC_DRIVEN_MODULES)
def test_model_judges_actions_and_strategies_name_no_field(module):
    """No string literal (docstrings aside) in these modules is a field name of the spec: fields,
    their semantics and their values come from the spec."""
    tree = ast.parse((SOURCE / module).read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    fields = _field_names()
    assert {"access_codes", "access_code", "role", "properties", "did_group_sid", "name"} <= fields
    fields -= JSON_SCHEMA_KEYWORDS  # a field named like a keyword (`properties`) cannot be told from the keyword
    named = sorted({node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings and node.value in fields})
    assert named == [], f"{module} names meeting-room fields {named}: read them from the spec instead"


def test_model_reads_semantics_from_extensions():
    m = model.for_spec(spec.default())
    assert m.MERGE_OR_REPLACE_FIELDS == ("properties",)  # x-patch: merge-or-replace
    assert m.SET_FIELDS == ("access_codes",)  # x-compare: set
    assert [(u.array_field, u.item_field, u.scope) for u in m.UNIQUE] == [
        ("access_codes", "access_code", ("account_sid", "did_group_sid"))]  # x-unique
    assert [(r.field, r.resource) for r in m.REFERENCES] == [("did_group_sid", "/did_groups")]  # x-references


def test_another_spec_gives_another_model(tmp_path):
    evolved = evolution.EVOLUTIONS[3].write(tmp_path)  # name turned read-only
    m = model.Model(spec.checked(evolved))
    assert "name" in m.READ_ONLY_FIELDS and "name" not in m.MODIFIABLE_FIELDS
    assert m.read_only_changes({"name": "new"}, {"name": "old"}) == {"name": "new"}
    assert "sha256" in spec.checked(evolved).description and str(evolved) in spec.checked(evolved).description
    assert "name" in model.Model(spec.default()).MODIFIABLE_FIELDS  # the default spec's model is untouched


@pytest.mark.parametrize("evo", evolution.EVOLUTIONS, ids=[e.name for e in evolution.EVOLUTIONS])
def test_specdiff_lists_each_evolution_with_its_rules(evo, tmp_path):
    changes = specdiff.contract_changes(spec.default(), spec.Spec(evo.write(tmp_path)))
    kinds = {change.kind for change in changes}
    expected = {"integer_field": "field added", "new_role": "enum +", "name_max_length": "length, pattern or bounds",
                "name_read_only": "readOnly flip"}[evo.name]
    assert expected in kinds, changes
    affected = {rule for change in changes for rule in change.rules}
    assert affected <= set(rules.RULES)
    assert evo.rule in affected or evo.name == "new_role"  # the fault's rule is among those the diff names
    assert specdiff.main([str(spec.DEFAULT_SPEC_PATH), str(evo.write(tmp_path))]) == 1


def test_specdiff_of_a_spec_with_itself_is_empty(capsys):
    assert specdiff.main([str(spec.DEFAULT_SPEC_PATH), str(spec.DEFAULT_SPEC_PATH)]) == 0
    assert "no change touches the contract" in capsys.readouterr().out


def test_specdiff_ignores_descriptions(tmp_path):
    doc = yaml.safe_load(spec.DEFAULT_SPEC_PATH.read_text(encoding="utf-8"))
    doc["components"]["schemas"]["MeetingRoom"]["properties"]["account_sid"]["description"] = "reworded"
    (tmp_path / "reworded.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert specdiff.contract_changes(spec.default(), spec.Spec(tmp_path / "reworded.yaml")) == []
