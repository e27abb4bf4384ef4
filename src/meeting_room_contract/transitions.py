"""The transition table: every modifiable field, every write path, every transition (issue 27).

One explicit case per (field, write path, transition), the same cases in every gate, whatever
hypothesis draws elsewhere:

* PATCH and PUT: empty -> value (for each empty form the field's body schemas allow: `null`,
  `[]`, `{}`, `""`), value -> another value, value -> empty (each empty form), value -> the same
  value. A case starts from a room it puts in the start state itself (a PUT of every modifiable
  field, read back), never from what an earlier case left in a reused room.
* POST: a new room with a value, and with each empty form.

Nothing here names a field: the fields are the model's `MODIFIABLE_FIELDS` and their schemas, so a
field QA adds to the spec gets its rows without code. Plain values come from the schema and its
extensions (`x-references`: the account's resources, read from the target; `x-unique`: fresh values
avoiding the account's; `x-value-forms`: the documented example of a kind of key; `x-plain-pattern`:
a value of the plain form), made when a case runs (`resolve`). No I/O: the tests send the requests.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import jsonschema

from . import spec, strategies
from .registry import NAME_KEY
from .run import Run

# The empty value of each JSON type a field can hold, by the label the case ids use.
EMPTY_FORMS: tuple[tuple[str, Any], ...] = (("null", None), ("empty-array", []), ("empty-object", {}),
                                            ("empty-string", ""))
METHODS = ("POST", "PUT", "PATCH")  # the order of the table: a PUT that breaks shows in a PUT row first
PATH_RULES = {"POST": "round_trip.exact_values", "PATCH": "patch.partial_update", "PUT": "put.full_replacement"}
EDGE_RULE = "round_trip.exact_values"  # an edge value (e.g. an empty name) accepted must come back exactly
SAME_PUT_RULE = "put.idempotent"  # value -> the same value by PUT: the start state's PUT sent again


@dataclass(frozen=True)
class Slot:
    """One side of a transition: the field's plain value 1 or 2, or one of its empty forms."""

    kind: str  # "value" or "empty"
    which: Any  # 1 or 2 (a value); the empty form's label (EMPTY_FORMS)

    @property
    def label(self) -> str:
        return f"value{self.which}" if self.kind == "value" else str(self.which)


@dataclass(frozen=True)
class TransitionCase:
    id: str
    method: str  # POST, PATCH or PUT
    field: str
    transition: str  # empty-to-value, value-to-another, value-to-empty, value-to-same; POST: create-with-...
    end: Slot  # the value sent
    start: Slot | None = None  # the field's value before (None: POST, a new room)

    def rule(self, end_is_plain: bool) -> str:
        """The rule the case's state checks count under: the write path's rule for a plain value (the
        same PUT twice: `put.idempotent`), round trip for an edge value (which may be refused)."""
        if not end_is_plain:
            return EDGE_RULE
        if self.method == "PUT" and self.start == self.end:
            return SAME_PUT_RULE
        return PATH_RULES[self.method]


def _field_schemas(run: Run, field: str, names: Sequence[str]) -> list[dict[str, Any]]:
    return [schema for schema in (run.spec.resolved(name).get("properties", {}).get(field) for name in names) if schema]


def empty_forms(run: Run, field: str, *, creation: bool = False) -> list[tuple[str, Any]]:
    """The empty values (`null`, `[]`, `{}`, `""`) that the field's PATCH and PUT body schemas (with
    `creation`: the POST body's) both allow. An empty string is no empty form of a field that names a
    resource (`x-references`): it names nothing (invalid input, not an empty value)."""
    names = (spec.CREATE_SCHEMA,) if creation else (spec.PATCH_SCHEMA, spec.PUT_SCHEMA)
    schemas = _field_schemas(run, field, names)
    if not schemas:
        return []
    validators = [jsonschema.Draft202012Validator(spec.strip_extensions(schema)) for schema in schemas]
    references = any("x-references" in schema for schema in schemas)
    return [(label, value) for label, value in EMPTY_FORMS
            if all(validator.is_valid(value) for validator in validators) and not (references and value == "")]


def table(run: Run) -> list[TransitionCase]:
    """Every case of the run's spec, in a fixed order: by write path (POST, PUT, PATCH), then field."""
    cases: list[TransitionCase] = []
    value1, value2 = Slot("value", 1), Slot("value", 2)
    for method in METHODS:
        for field in run.model.MODIFIABLE_FIELDS:
            if method == "POST":
                if field not in run.model.CREATABLE_FIELDS:
                    continue
                forms = [Slot("empty", label) for label, _ in empty_forms(run, field, creation=True)]
                rows = [("create-with-value", None, value1)] + [(f"create-with-{form.which}", None, form) for form in forms]
            else:
                forms = [Slot("empty", label) for label, _ in empty_forms(run, field)]
                rows = ([(f"{form.which}-to-value", form, value1) for form in forms]
                        + [("value-to-another", value1, value2)]
                        + [(f"value-to-{form.which}", value1, form) for form in forms]
                        + [("value-to-same", value1, value1)])
            cases += [TransitionCase(f"{method}-{field}:{name}", method, field, name, end, start) for name, start, end in rows]
    return cases


# -- values, made when a case runs ------------------------------------------------------------------

@dataclass(frozen=True)
class Resolved:
    """What one case sends: the field's value before (PATCH/PUT) and the value sent, and a plain
    value of every other modifiable field (the rest of the start state, and of a PUT body)."""

    start: Any
    end: Any
    others: dict[str, Any]

    def start_state(self, field: str) -> dict[str, Any]:
        return {**copy.deepcopy(self.others), field: copy.deepcopy(self.start)}


def resolve(run: Run, case: TransitionCase, did_groups: Sequence[str], room_name: Callable[[], str]) -> Resolved | str:
    """The case's values (fresh unique values, the account's DID groups, the run's room names for the
    room's name), or why they cannot be made (then the case is recorded as not checked)."""
    needed = max([slot.which for slot in (case.start, case.end) if slot is not None and slot.kind == "value"], default=0)
    values, why = plain_values(run, case.field, did_groups, room_name, needed)
    if len(values) < needed:
        return f"{case.id}: {why}"
    forms = dict(EMPTY_FORMS)

    def of(slot: Slot | None) -> Any:
        if slot is None:
            return None
        return copy.deepcopy(values[slot.which - 1] if slot.kind == "value" else forms[slot.which])

    others: dict[str, Any] = {}
    if case.method != "POST":
        for other in run.model.MODIFIABLE_FIELDS:
            if other != case.field:
                made, _ = plain_values(run, other, did_groups, room_name, 1)
                others[other] = made[0] if made else strategies.simplest_value(run, other, did_groups)
    return Resolved(of(case.start), of(case.end), others)


def plain_values(run: Run, field: str, did_groups: Sequence[str], room_name: Callable[[], str],
                 count: int) -> tuple[list[Any], str]:
    """Up to `count` (at most 2) distinct, non-empty plain values of a modifiable field, and why there
    are fewer when there are. Plain: every conforming server must accept them."""
    if count <= 0:
        return [], ""
    schemas = _field_schemas(run, field, (spec.PATCH_SCHEMA, spec.PUT_SCHEMA))
    if not schemas:
        return [], f"`{field}` has no schema in the PATCH and PUT bodies"
    schema = schemas[-1]
    if "x-references" in schema:
        resource = schema["x-references"].get("resource", "the referenced resource")
        values = list(dict.fromkeys(did_groups))[:count]
        return values, (f"the account has {len(values) or 'no'} item(s) in {resource} (read from the target): "
                        f"no {'other ' if values else ''}value for `{field}`")
    if "x-unique" in schema:
        if not run.model.UNIQUE or field != run.model.UNIQUE[0].array_field:
            return [], f"no fresh values are made for `{field}`"
        return [strategies.fresh_access_codes(run, 2 - index) for index in range(count)], ""
    if "x-value-forms" in schema:
        documented = [(form["keys-documented"], form["example"]) for form in schema["x-value-forms"]
                      if form.get("keys-documented") and "example" in form]
        options = [{keys[0]: example} for keys, example in documented]
        options += [{keys[1]: example} for keys, example in documented if len(keys) > 1]
        return options[:count], f"the spec documents fewer than {count} example values for `{field}`"
    if field == NAME_KEY and "x-plain-pattern" in schema:
        return [room_name() for _ in range(count)], ""
    validators = [jsonschema.Draft202012Validator(spec.strip_extensions(s)) for s in schemas]
    found = [value for value in _candidates(schema)
             if all(v.is_valid(value) for v in validators) and value not in EMPTY_VALUES
             and run.model.is_plain(schema, value)]
    unique = []
    for value in found:
        if value not in unique:
            unique.append(value)
    return unique[:count], f"no {count} plain values of `{field}` could be made from its schema"


EMPTY_VALUES = [value for _, value in EMPTY_FORMS]
_PLAIN_STRINGS = ("plain value", "plain", "Plain2", "x", "y", "000000", "123456")


def _candidates(schema: dict[str, Any]) -> list[Any]:
    """Candidate plain values of a schema, simplest first (filtered by the caller)."""
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    out: list[Any] = []
    if "default" in schema:
        out.append(copy.deepcopy(schema["default"]))
    out += [value for value in schema.get("enum", []) if value is not None]
    if "boolean" in kinds:
        out += [True, False]
    if "integer" in kinds or "number" in kinds:
        low = schema.get("minimum", 0)
        low = low + 1 if schema.get("exclusiveMinimum") is True else low
        out += [low, low + 1, low + 2]
    if "string" in kinds and "enum" not in schema:
        pattern = schema.get("x-plain-pattern")
        out += [text for text in _PLAIN_STRINGS if pattern is None or re.search(pattern, text)]
    if "array" in kinds and isinstance(schema.get("items"), dict):
        out += [[item] for item in _candidates(schema["items"])]
    if "object" in kinds and isinstance(schema.get("properties"), dict):
        required = schema.get("required", [])
        firsts = {name: _candidates(sub) for name, sub in schema["properties"].items() if name in required}
        if all(firsts.values()):
            out += [{name: options[index % len(options)] for name, options in firsts.items()} for index in range(2)]
    return out
