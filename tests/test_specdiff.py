"""specdiff reads schemas by their structure: a field named like a JSON Schema or OpenAPI keyword
is a field (added, removed, changed: exit 1), and only a schema's own description, title or example
is ignored (exit 0)."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meeting_room_contract import spec, specdiff

# Keywords of JSON Schema and OpenAPI 3 schema objects, and an extension the model reads: each is
# also a legal field name.
KEYWORD_NAMES = ["description", "title", "example", "examples", "type", "enum", "required", "default", "format",
                 "pattern", "items", "properties", "additionalProperties", "nullable", "readOnly", "writeOnly",
                 "minimum", "maximum", "minLength", "maxLength", "const", "allOf", "anyOf", "oneOf", "not",
                 "deprecated", "x-since", "$ref", "patternProperties", "discriminator"]
ITEM_SCHEMA = "AccessCode"  # the item of `access_codes` in every room schema


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@functools.lru_cache(maxsize=1)
def _default() -> dict[str, Any]:
    return spec.parse_yaml(spec.DEFAULT_SPEC_PATH.read_text(encoding="utf-8"))


def _default_document() -> dict[str, Any]:
    return copy.deepcopy(_default())


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_DUMPER, allow_unicode=True)


def _with_field(name: str, where: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    """The default spec with an optional field `name` of `schema` in the room schemas ("room") or in
    the access-code item ("item"); None: without it (the default spec)."""
    document = _default_document()
    if schema is None:
        return document
    schemas = document["components"]["schemas"]
    for target in (specdiff.SCHEMAS if where == "room" else (ITEM_SCHEMA,)):
        assert name not in schemas[target]["properties"], (name, target)
        schemas[target]["properties"][name] = copy.deepcopy(schema)
    return document


def _diff(tmp_path: Path, old: dict[str, Any], new: dict[str, Any], capsys) -> tuple[list[specdiff.Change], int]:
    """The changes `python -m meeting_room_contract.specdiff OLD NEW --json` lists, and its exit status."""
    (tmp_path / "old.yaml").write_text(_dump(old), encoding="utf-8")
    (tmp_path / "new.yaml").write_text(_dump(new), encoding="utf-8")
    status = specdiff.main([str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml"), "--json"])
    changes = [specdiff.Change(**change) for change in json.loads(capsys.readouterr().out)["changes"]]
    return changes, status


def _cases() -> list[tuple[str, str]]:
    fields = set(spec.default().room_fields())  # `properties` is a room field already: added in the item only
    return [(name, where) for name in KEYWORD_NAMES for where in ("room", "item")
            if not (where == "room" and name in fields)]


@pytest.mark.parametrize(("name", "where"), _cases(), ids=[f"{n}-{w}" for n, w in _cases()])
def test_a_field_named_like_a_keyword_is_a_field(name, where, tmp_path, capsys):
    path = name if where == "room" else f"access_codes[].{name}"
    schemas = sorted(specdiff.SCHEMAS)
    plain = {"type": "string", "description": "a field named like a keyword"}

    def only(changes, kind):
        found = [change for change in changes if change.where == path]
        assert [change.kind for change in found] == [kind], changes
        assert sorted(found[0].schemas) == schemas
        return found[0]

    changes, status = _diff(tmp_path, _with_field(name, where, None), _with_field(name, where, plain), capsys)
    assert status == 1 and only(changes, "field added").new == {"type": "string"}  # its description ignored

    changes, status = _diff(tmp_path, _with_field(name, where, plain), _with_field(name, where, None), capsys)
    assert status == 1 and only(changes, "field removed").old == {"type": "string"}

    changes, status = _diff(tmp_path, _with_field(name, where, plain),
                            _with_field(name, where, {**plain, "type": "integer"}), capsys)
    assert status == 1 and (only(changes, "type").old, only(changes, "type").new) == ("string", "integer")

    changes, status = _diff(tmp_path, _with_field(name, where, {**plain, "maxLength": 40}),
                            _with_field(name, where, {**plain, "maxLength": 80}), capsys)
    assert status == 1 and only(changes, "length, pattern or bounds").new == 80

    changes, status = _diff(tmp_path, _with_field(name, where, plain),
                            _with_field(name, where, {**plain, "nullable": True}), capsys)
    assert status == 1 and only(changes, "type").new == ["string", "null"]

    # its own description, title and example are a schema's: ignored
    changes, status = _diff(tmp_path, _with_field(name, where, plain),
                            _with_field(name, where, {**plain, "description": "reworded", "title": "T",
                                                      "example": "x", "examples": ["y"]}), capsys)
    assert (changes, status) == ([], 0)


def test_a_field_named_description_is_reported_in_json(tmp_path, capsys):
    """The issue's case: `description` added to the four room schemas printed `"changes": []`, exit 0."""
    (tmp_path / "new.yaml").write_text(_dump(_with_field("description", "room", {"type": "string"})),
                                       encoding="utf-8")
    assert specdiff.main([str(spec.DEFAULT_SPEC_PATH), str(tmp_path / "new.yaml"), "--json"]) == 1
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert [(c["kind"], c["where"]) for c in changes] == [("field added", "description")]


def test_descriptions_titles_and_examples_of_schemas_stay_ignored(tmp_path, capsys):
    new = _default_document()
    schemas = new["components"]["schemas"]
    for name in specdiff.SCHEMAS:
        schemas[name]["description"] = "reworded"
        schemas[name]["title"] = f"the {name}"
    schemas[spec.ROOM_SCHEMA]["example"]["name"] = "another example"
    schemas[spec.ROOM_SCHEMA]["properties"]["account_sid"]["examples"] = ["a1f38bf7-5879-49c1-be72-50ffa7f249a6"]
    schemas["AccessCode"]["properties"]["role"]["description"] = "reworded"
    schemas["AccessCodes"]["items"] = {"allOf": [{"$ref": "#/components/schemas/AccessCode"}],
                                       "description": "a description inside allOf's parent"}
    schemas["Properties"]["additionalProperties"]["title"] = "a value"
    changes, status = _diff(tmp_path, _default_document(), new, capsys)
    # allOf around the item is a structural change (reported as such); none of the texts is
    assert all(change.kind == "keyword allOf" or change.where.endswith("[]") for change in changes), changes
    assert not any("reworded" in json.dumps([c.old, c.new]) or "title" in json.dumps([c.old, c.new]) for c in changes)

    new["components"]["schemas"]["AccessCodes"]["items"] = {"$ref": "#/components/schemas/AccessCode"}
    changes, status = _diff(tmp_path, _default_document(), new, capsys)
    assert (changes, status) == ([], 0)


def test_a_change_inside_an_allof_branch_names_the_field(tmp_path, capsys):
    old, new = _default_document(), _default_document()
    for document, length in ((old, 40), (new, 80)):
        document["components"]["schemas"][spec.ROOM_SCHEMA]["properties"]["type"] = {
            "allOf": [{"type": "string"}, {"maxLength": length, "description": "ignored"}]}
    changes, status = _diff(tmp_path, old, new, capsys)
    assert status == 1 and [(c.kind, c.where, c.old, c.new) for c in changes] == [
        ("length, pattern or bounds", "type", 40, 80)]


def test_resolved_and_stripped_schemas_keep_fields_named_like_keywords():
    """`Spec.resolved` drops `nullable`/`example` and resolves `$ref` only where they are keywords;
    `strip_extensions` drops `x-` keys and `readOnly` only there."""
    document = _with_field("placeholder", "room", None)
    room = document["components"]["schemas"][spec.ROOM_SCHEMA]["properties"]
    for name in ("nullable", "example", "$ref", "x-since", "readOnly"):
        room[name] = {"type": "string", "nullable": True, "readOnly": True, "x-since": "2.1"}
    loaded = spec.Spec.__new__(spec.Spec)
    loaded.document = document
    resolved = loaded._to_json_schema(document["components"]["schemas"][spec.ROOM_SCHEMA])
    for name in ("nullable", "example", "$ref", "x-since", "readOnly"):
        assert resolved["properties"][name] == {"type": ["string", "null"], "readOnly": True, "x-since": "2.1"}
        assert spec.strip_extensions(resolved)["properties"][name] == {"type": ["string", "null"]}
    assert "example" not in resolved and resolved["properties"]["access_codes"]["items"]["properties"]["role"]
