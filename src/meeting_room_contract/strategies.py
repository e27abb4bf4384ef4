"""Hypothesis strategies for meeting-room request bodies, generated from the spec's schemas.

Bodies come from the spec's PATCH and PUT body schemas (`MeetingRoomPatch`, `MeetingRoomPut`):
types, enums, nullability, patterns, lengths, bounds and `additionalProperties` are the spec's,
drawn by schemathesis's JSON Schema generator (the engine schemathesis itself uses; pinned with
schemathesis). No field is named here. Two tiers of values:

* *plain* values are ordinary input every conforming server must accept: a string whose schema
  has `x-plain-pattern` takes that form (names of plain characters, 6-digit codes like the docs'
  samples); other strings are printable ASCII without surrounding whitespace; objects carry only
  their documented properties;
* *edge* values are anything else the schema allows (unicode, surrounding whitespace, long
  strings, undocumented property value forms, codes of other lengths or with `*`/`#`): they may
  be refused with a 4xx (contract A), but when accepted they must come back exactly as sent.

What the spec cannot know is added by small named overlays, keyed by extension name
(`OVERLAYS`): values of a field that `x-references` a resource are read from the target (null
or a DID group of the account); `x-unique` item values avoid the values the target's rooms
already hold (the run's `CodeBook`, read at the start of the run and extended whenever a refusal is
proven by another room) and repeat in no array; `x-value-forms` objects use documented keys
with values in the documented form for their kind; edge strings add known troublemakers.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import jsonschema
from hypothesis import strategies as st
from schemathesis.generation.jsonschema.builder import build
from schemathesis.generation.jsonschema.context import Alphabet

from . import spec
from .run import Run

_CONTROL = "".join(chr(code) for code in range(32)) + "\x7f"
PLAIN_ALPHABET = Alphabet(allow_x00=False, codec="ascii", exclude_characters=_CONTROL, allow_surrounding_whitespace=False)
EDGE_ALPHABET = Alphabet(allow_x00=False, codec="utf-8")
# Strings a server may refuse but must never alter (the edge-string overlay, filtered by the schema).
EDGE_STRINGS = ["", "0", "007", "1e3", "null", "  spaced  ", " 360 ", "\tpadded ", "Zoë's ☎ room", "会議室 🎉", "٣٦٠", "-1",
                "1.50", "on", "hplx", "*", "x" * 120 + " long", "é" * 101]
MAX_ARRAY_ITEMS = 4
MAX_OBJECT_KEYS = 4


def _generated(schema: Mapping[str, Any], alphabet: Alphabet) -> st.SearchStrategy[Any]:
    """Values of a (resolved) schema, drawn by schemathesis's JSON Schema generator."""
    return _build_cached(json.dumps(spec.strip_extensions(schema), sort_keys=True), alphabet)


_BUILT: dict[tuple[str, Alphabet], st.SearchStrategy[Any]] = {}


def _build_cached(key: str, alphabet: Alphabet) -> st.SearchStrategy[Any]:
    if (key, alphabet) not in _BUILT:
        _BUILT[(key, alphabet)] = build(json.loads(key), draft=20, formats={}, alphabet=alphabet)
    return _BUILT[(key, alphabet)]


def _valid(schema: Mapping[str, Any]) -> Callable[[Any], bool]:
    return jsonschema.Draft202012Validator(spec.strip_extensions(schema)).is_valid


def _types(schema: Mapping[str, Any]) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


@dataclass(frozen=True)
class Context:
    """What a draw needs beyond the spec: the tier and what the target holds."""

    edge: bool = False
    valid_did_groups: tuple[str, ...] = ()  # values for `x-references` fields (read from the target)
    exclude_codes: frozenset[Any] = frozenset()  # unique values the caller's other rooms hold
    references: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # by resource, when not DID groups
    avoided: frozenset[Any] = frozenset()  # unique values held by the account's rooms (the run's snapshot)


# -- overlays (keyed by extension name) ------------------------------------------------------------

def _references(schema: Mapping[str, Any], ctx: Context) -> st.SearchStrategy[Any]:
    """`x-references`: null (if the schema allows it) or a resource of the account, read from the target."""
    resource = schema["x-references"]["resource"]
    known = list(ctx.references.get(resource, ctx.valid_did_groups))
    options = ([st.none()] if "null" in _types(schema) else []) + ([st.sampled_from(known)] if known else [])
    if not options:
        raise ValueError(f"no value for a field referencing {resource}: the target has none and the field is not nullable")
    return st.one_of(options)


def _unique_array(schema: Mapping[str, Any], ctx: Context) -> st.SearchStrategy[list[Any]]:
    """`x-unique`: items whose unique field repeats in no array and is held by no room of the target."""
    item_field = schema["x-unique"]["item-field"]
    excluded = ctx.exclude_codes
    item = _object(schema["items"], ctx, field_overrides={item_field: _unique_values(
        schema["items"]["properties"][item_field], ctx).filter(lambda value: value not in excluded)})
    return st.lists(item, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", MAX_ARRAY_ITEMS),
                                                                            MAX_ARRAY_ITEMS),
                    unique_by=lambda entry: entry[item_field])


def _unique_values(schema: Mapping[str, Any], ctx: Context) -> st.SearchStrategy[Any]:
    return _value(schema, ctx).filter(lambda value: value not in ctx.avoided)


def _value_forms(schema: Mapping[str, Any], ctx: Context) -> st.SearchStrategy[dict[str, Any]]:
    """`x-value-forms`: documented keys, each with a value in the form the docs show for its kind
    (edge: sometimes a value of another form that the schema allows)."""
    value_schema = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
    forms = [(list(form.get("keys-documented", [])), form["values"]) for form in schema["x-value-forms"]]

    def value_for(pattern: str) -> st.SearchStrategy[Any]:
        plain = st.from_regex(pattern, fullmatch=True)
        return st.one_of(plain, _edge_string(value_schema)) if ctx.edge else plain

    values = {key: value_for(pattern) for keys, pattern in forms for key in keys}
    return st.lists(st.sampled_from(sorted(values)), min_size=schema.get("minProperties", 0),
                    max_size=min(schema.get("maxProperties", MAX_OBJECT_KEYS), MAX_OBJECT_KEYS), unique=True
                    ).flatmap(lambda keys: st.fixed_dictionaries({key: values[key] for key in keys}))


OVERLAYS: dict[str, Callable[[Mapping[str, Any], Context], st.SearchStrategy[Any]]] = {
    "x-references": _references,
    "x-unique": _unique_array,
    "x-value-forms": _value_forms,
}


def _edge_string(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    """Edge strings: whatever the schema allows, plus known troublemakers it allows."""
    valid = _valid(schema) if schema else (lambda value: isinstance(value, str))
    samples = [value for value in EDGE_STRINGS if valid(value)]
    generated = _generated(schema or {"type": "string"}, EDGE_ALPHABET).filter(lambda value: isinstance(value, str))
    return st.one_of(generated, st.sampled_from(samples)) if samples else generated


# -- the walker ------------------------------------------------------------------------------------

def _value(schema: Mapping[str, Any], ctx: Context) -> st.SearchStrategy[Any]:
    """Values of one resolved schema node in the context's tier (overlays first)."""
    for extension, overlay in OVERLAYS.items():
        if extension in schema:
            return overlay(schema, ctx)
    kinds = _types(schema)
    if "object" in kinds and "properties" in schema:
        return _object(schema, ctx)
    if "array" in kinds and isinstance(schema.get("items"), dict) and "enum" not in schema:
        items = _value(schema["items"], ctx)
        return st.lists(items, min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", MAX_ARRAY_ITEMS), MAX_ARRAY_ITEMS))
    if "string" in kinds and "enum" not in schema:
        nullable = [st.none()] if "null" in kinds else []
        if ctx.edge:
            return st.one_of(*nullable, _edge_string({**schema, "type": "string"}))
        string_schema = {**schema, "type": "string"}
        if "x-plain-pattern" in schema:
            valid = _valid(string_schema)
            plain = st.from_regex(schema["x-plain-pattern"], fullmatch=True).filter(valid)
        else:
            plain = _generated(string_schema, PLAIN_ALPHABET)
        return st.one_of(*nullable, plain)
    return _generated(schema, EDGE_ALPHABET if ctx.edge else PLAIN_ALPHABET)


def _object(schema: Mapping[str, Any], ctx: Context, *, include_read_only: bool = False,
            field_overrides: Mapping[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """An object with documented properties only (read-only ones left out): required ones always,
    the others optionally."""
    overrides = dict(field_overrides or {})
    required = set(schema.get("required", []))
    properties = {name: overrides[name] if name in overrides else _value(sub, ctx)
                  for name, sub in schema.get("properties", {}).items()
                  if include_read_only or not sub.get("readOnly")}
    return st.fixed_dictionaries({name: s for name, s in properties.items() if name in required},
                                 optional={name: s for name, s in properties.items() if name not in required})


def _context(run: Run, valid_did_groups: Sequence[str], edge: bool, exclude_codes: frozenset[Any]) -> Context:
    return Context(edge=edge, valid_did_groups=tuple(valid_did_groups), exclude_codes=frozenset(exclude_codes),
                   avoided=run.codes.avoided)


def _body_schema(run: Run, name: str) -> dict[str, Any]:
    return run.spec.resolved(name)


# -- bodies ------------------------------------------------------------------------------------------

def field_values(run: Run, valid_did_groups: Sequence[str], *, edge: bool = False,
                 exclude_codes: frozenset[str] = frozenset(), schema: str = spec.PATCH_SCHEMA) -> dict[str, st.SearchStrategy[Any]]:
    """One strategy per modifiable field of a body schema."""
    ctx = _context(run, valid_did_groups, edge, exclude_codes)
    properties = _body_schema(run, schema).get("properties", {})
    return {name: _value(sub, ctx) for name, sub in properties.items() if name in run.model.MODIFIABLE_FIELDS}


def patch_bodies(run: Run, valid_did_groups: Sequence[str], *, edge: bool = False,
                 exclude_codes: frozenset[str] = frozenset()) -> st.SearchStrategy[dict[str, Any]]:
    """A PATCH body from the spec's PATCH schema: any subset of the modifiable fields, `{}` included."""
    ctx = _context(run, valid_did_groups, edge, exclude_codes)
    return _object(_body_schema(run, spec.PATCH_SCHEMA), ctx)


def put_bodies(run: Run, valid_did_groups: Sequence[str], *, edge: bool = False,
               exclude_codes: frozenset[str] = frozenset()) -> st.SearchStrategy[dict[str, Any]]:
    """A PUT body from the spec's PUT schema: every required field, and every other modifiable one
    (a full replacement)."""
    ctx = _context(run, valid_did_groups, edge, exclude_codes)
    schema = _body_schema(run, spec.PUT_SCHEMA)
    full = {**schema, "required": sorted(set(schema.get("required", [])) | set(run.model.MODIFIABLE_FIELDS)
                                        & set(schema.get("properties", {})))}
    return _object(full, ctx)


def initial_rooms(run: Run, valid_did_groups: Sequence[str], *, exclude_codes: frozenset[str] = frozenset()
                  ) -> st.SearchStrategy[dict[str, Any]]:
    """Creation bodies (any subset of fields, plain values): the state an update starts from.
    (The room factory gives every room its recognisable name.)"""
    return _object(_body_schema(run, spec.CREATE_SCHEMA), _context(run, valid_did_groups, False, exclude_codes))


def edge_field_values(run: Run, valid_did_groups: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A PATCH body of every modifiable field that has edge values (strings somewhere inside)."""
    values = field_values(run, valid_did_groups, edge=True)
    edgy = {name: strategy for name, strategy in values.items() if _has_strings(_body_schema(run, spec.PATCH_SCHEMA)["properties"][name])}
    return st.fixed_dictionaries(edgy)


def _has_strings(schema: Any) -> bool:
    if isinstance(schema, dict):
        if "x-references" in schema:
            return False
        return "string" in _types(schema) or any(_has_strings(value) for key, value in schema.items() if key != "x-value-forms")
    if isinstance(schema, list):
        return any(_has_strings(item) for item in schema)
    return False


def complete_put(run: Run, body: Mapping[str, Any], room: Mapping[str, Any]) -> dict[str, Any]:
    """A PUT body: `body`, completed with the room's current values for the other modifiable fields."""
    return {**{field: room.get(field) for field in run.model.MODIFIABLE_FIELDS if field in room}, **body}


# -- unique values (access codes) outside hypothesis -------------------------------------------------

def fresh_value(pattern: str | None) -> str:
    """A random value of a unique item field in its plain form, from the OS random source."""
    for length in (6, 4, 8, 5, 7, 9, 10, 12):
        candidate = "".join(secrets.choice(string.digits) for _ in range(length))
        if pattern is None or re.search(pattern, candidate):
            return candidate
    raise ValueError(f"overlay x-unique: cannot make fresh values of the form {pattern!r}")


def fresh_access_codes(run: Run, count: int) -> list[dict[str, Any]]:
    """`count` items of the first `x-unique` array (access codes): fresh plain values not in use,
    the item's other required fields cycling through their enums (one per role)."""
    rule = run.model.UNIQUE[0]
    item_schema = run.spec.field_schema(rule.array_field)["items"]
    pattern = item_schema["properties"][rule.item_field].get("x-plain-pattern")
    values: list[str] = []
    while len(values) < count:
        value = fresh_value(pattern)
        if value not in run.codes and value not in values:
            values.append(value)
    run.codes.add(values)
    items = []
    for index, value in enumerate(values):
        item = {rule.item_field: value}
        for name in item_schema.get("required", []):
            if name != rule.item_field:
                sub = item_schema["properties"][name]
                options = [option for option in sub.get("enum", []) if option is not None]
                item[name] = options[index % len(options)] if options else run.model.default_value_of(sub)
        items.append(item)
    return items


def unique_array_field(run: Run) -> str:
    return run.model.UNIQUE[0].array_field


def is_plain_code(run: Run, code: Any) -> bool:
    """A unique item value in its plain form (6 digits, like the docs' samples): every server must accept it."""
    return run.model.is_plain_unique_value(code)


def codes_of(run: Run, body: Mapping[str, Any]) -> frozenset[Any]:
    return frozenset(run.model.unique_values(body))


# -- invalid values ----------------------------------------------------------------------------------

_NOT_STRINGS = [0, 7, True, [], {}, 1.5]
_BAD_STRINGS = ["12a4", "", "12 34", "١٢٣٤", "abcdef", "admin", "HOST", "moderator!", "x y"]


def _invalid(schema: Mapping[str, Any], ctx: Context) -> st.SearchStrategy[Any]:
    """Values the schema rejects: other types, strings outside the enum, pattern or lengths,
    numbers out of bounds, arrays with one invalid item, objects with one invalid property or a
    required one missing."""
    kinds = _types(schema)
    options: list[st.SearchStrategy[Any]] = []
    wrong = [value for value in [*_NOT_STRINGS, "text", None] if _json_type(value) not in kinds
             and not (_json_type(value) == "integer" and "number" in kinds)]
    if wrong:
        options.append(st.sampled_from(wrong))
    if "string" in kinds:
        options.append(st.sampled_from(_BAD_STRINGS))
        if "maxLength" in schema:
            longest = schema["maxLength"]
            options.append(st.text(string.ascii_letters, min_size=longest + 1, max_size=longest + 20))
        if schema.get("minLength", 0) > 0:
            options.append(st.text(string.ascii_letters, max_size=schema["minLength"] - 1))
    if "integer" in kinds or "number" in kinds:
        if "maximum" in schema:
            options.append(st.integers(schema["maximum"] + 1, schema["maximum"] + 1000))
        if "minimum" in schema:
            options.append(st.integers(schema["minimum"] - 1000, schema["minimum"] - 1))
    if "array" in kinds and isinstance(schema.get("items"), dict):
        options.append(st.lists(_invalid(schema["items"], ctx), min_size=1, max_size=2))
    if "object" in kinds:
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            keys = sorted({key for form in schema.get("x-value-forms", []) for key in form.get("keys-documented", [])}) or ["key"]
            options.append(st.dictionaries(st.sampled_from(keys), _invalid(additional, ctx), min_size=1, max_size=2))
        for name, sub in schema.get("properties", {}).items():
            if sub.get("readOnly"):
                continue
            options.append(_object(schema, ctx).flatmap(
                lambda valid, name=name, sub=sub: _invalid(sub, ctx).map(lambda bad: {**valid, name: bad})))
            if name in schema.get("required", []):
                options.append(_object(schema, ctx).map(lambda valid, name=name: {k: v for k, v in valid.items() if k != name}))
    validator = _valid(schema)
    return st.one_of(options).filter(lambda value: not validator(value))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def invalid_field_values(run: Run) -> st.SearchStrategy[dict[str, Any]]:
    """One modifiable field with a value the spec's body schema rejects."""
    ctx = Context()
    properties = _body_schema(run, spec.PATCH_SCHEMA).get("properties", {})
    return st.one_of([_invalid(sub, ctx).map(lambda bad, name=name: {name: bad})
                      for name, sub in properties.items() if name in run.model.MODIFIABLE_FIELDS])


# -- one value at a time (outside hypothesis draws) --------------------------------------------------

def simplest_body(run: Run, valid_did_groups: Sequence[str], fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The simplest valid value of each modifiable field (or `fields`): a full PUT body for tests
    that need one body, not many."""
    wanted = run.model.MODIFIABLE_FIELDS if fields is None else tuple(fields)
    return {name: simplest_value(run, name, valid_did_groups) for name in wanted}


def simplest_value(run: Run, name: str, valid_did_groups: Sequence[str] = ()) -> Any:
    """The simplest valid value of a modifiable field, by the PUT body's schema of it."""
    schema = _body_schema(run, spec.PUT_SCHEMA).get("properties", {}).get(name) or run.spec.field_schema(name)
    if "x-references" in schema:
        return (list(valid_did_groups) or [None])[0]
    if "x-unique" in schema:
        return []
    if "x-plain-pattern" in schema:
        return _simplest_match(schema)
    return run.model.default_value_of(schema)


def _simplest_match(schema: Mapping[str, Any]) -> str:
    valid = _valid({**schema, "type": "string"})
    for candidate in ("plain value", "plain", "x", "000000"):
        if re.search(schema["x-plain-pattern"], candidate) and valid(candidate):
            return candidate
    raise ValueError(f"no simple plain value for pattern {schema['x-plain-pattern']!r}")


def sample_values(run: Run, valid_did_groups: Sequence[str] = (), *, fresh_codes: int = 1) -> dict[str, Any]:
    """Non-empty sample values for a room that tests start from: fresh unique items (codes) and, for
    each `x-value-forms` object, its documented examples (`example` of each form)."""
    values: dict[str, Any] = {}
    for name in run.model.MODIFIABLE_FIELDS:
        schema = run.spec.field_schema(name)
        if "x-unique" in schema and name == unique_array_field(run):
            values[name] = fresh_access_codes(run, fresh_codes)
        elif "x-value-forms" in schema:
            values[name] = {form["keys-documented"][0]: form["example"] for form in schema["x-value-forms"][:1]
                            if form.get("keys-documented") and "example" in form}
    return values
