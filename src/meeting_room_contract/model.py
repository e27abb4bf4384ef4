"""The contract model: what PATCH and PUT do, and which behaviours the contract allows.

Nothing here names a meeting-room field: the fields, their types and their semantics come from
the spec (`readOnly`, `required` of the PUT body, and the `x-` extensions `x-patch`, `x-compare`,
`x-unique`, `x-references`, `x-plain-pattern`). Values are judged with jsonschema against the
spec's body schema. The judges predict expected states with these functions; the mock is a separate
implementation of CONTRACT.md that imports nothing from here (two implementations that must agree).

`Model(spec)` answers for one version of the spec; a run holds the model of its spec (`Run.model`).
"""

from __future__ import annotations

import copy
import enum
import functools
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import jsonschema

from . import spec as spec_module
from . import textdiff
from .spec import Spec


class PropertiesMode(str, enum.Enum):
    """How PATCH applies a nested object marked `x-patch: merge-or-replace` (contract A: either)."""

    MERGE = "merge"
    REPLACE = "replace"


@dataclass(frozen=True)
class Uniqueness:
    """`x-unique` on an array field: its items' `item_field` is unique across the rooms that share
    the values of `scope` (read-only scope fields, like the account, are implied by the listing)."""

    array_field: str
    item_field: str
    scope: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """`x-references` on a field: its value names a `resource` of the account by `field`."""

    field: str
    resource: str
    key: str


class Model:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.READ_ONLY_FIELDS: tuple[str, ...] = spec.read_only_fields()
        self.MODIFIABLE_FIELDS: tuple[str, ...] = spec.modifiable_fields()
        self.DOCUMENTED_FIELDS: tuple[str, ...] = spec.room_fields()
        self.ID_FIELD: str = spec.id_field()
        self.PUT_REQUIRED_FIELDS: tuple[str, ...] = spec.put_required_fields()
        patch_modes = {f: v for f, v in spec.fields_with("x-patch").items() if f in self.MODIFIABLE_FIELDS}
        # Nested objects whose PATCH may merge or replace (one rule all run, contract A)
        self.MERGE_OR_REPLACE_FIELDS: tuple[str, ...] = tuple(f for f, v in patch_modes.items() if v == "merge-or-replace")
        self.MERGE_FIELDS: tuple[str, ...] = tuple(f for f, v in patch_modes.items() if v == "merge")
        self.SET_FIELDS: tuple[str, ...] = tuple(f for f, v in spec.fields_with("x-compare").items() if v == "set")
        self.UNIQUE: tuple[Uniqueness, ...] = tuple(
            Uniqueness(f, v["item-field"], tuple(v.get("scope", ()))) for f, v in spec.fields_with("x-unique").items())
        self.REFERENCES: tuple[Reference, ...] = tuple(
            Reference(f, v["resource"], v.get("field", f)) for f, v in spec.fields_with("x-references").items())
        body = spec.resolved(spec_module.PATCH_SCHEMA)
        self._body_validator = jsonschema.Draft202012Validator(
            {"type": "object", "properties": {f: s for f, s in body.get("properties", {}).items()
                                              if f in self.MODIFIABLE_FIELDS}})
        self._room_validator = jsonschema.Draft202012Validator(spec.resolved(spec_module.ROOM_SCHEMA))
        create = spec.resolved(spec_module.CREATE_SCHEMA)
        self.CREATABLE_FIELDS: tuple[str, ...] = tuple(create.get("properties", {}))
        self._create_validator = jsonschema.Draft202012Validator(
            {"type": "object", "properties": create.get("properties", {})})

    # -- PATCH and PUT -----------------------------------------------------------------------
    def apply_patch(self, room: Mapping[str, Any], body: Mapping[str, Any], properties_mode: PropertiesMode) -> dict[str, Any]:
        """The state after a PATCH: sent modifiable fields set, everything else kept; a nested
        object marked `x-patch: merge` (or `merge-or-replace` under MERGE) is merged key by key."""
        updated = copy.deepcopy(dict(room))
        for field in self.MODIFIABLE_FIELDS:
            if field not in body:
                continue
            value = copy.deepcopy(body[field])
            merges = field in self.MERGE_FIELDS or (field in self.MERGE_OR_REPLACE_FIELDS
                                                    and properties_mode is PropertiesMode.MERGE)
            if merges and isinstance(value, dict):
                old = updated.get(field)
                value = {**(old if isinstance(old, dict) else {}), **value}
            updated[field] = value
        return updated

    def apply_put(self, room: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
        """The state after a valid PUT: every modifiable field replaced by the body's value (a field
        the PUT body may leave out gets its default)."""
        updated = copy.deepcopy(dict(room))
        for field in self.MODIFIABLE_FIELDS:
            updated[field] = copy.deepcopy(body[field]) if field in body else self.default_value(field)
        return updated

    def default_value(self, field: str) -> Any:
        """The value of a field a body leaves out: the spec's `default`, else null (nullable), else
        the empty value of its type (the minimum for a bounded number)."""
        return self.default_value_of(self.spec.field_schema(field))

    @staticmethod
    def default_value_of(schema: Mapping[str, Any]) -> Any:
        if "default" in schema:
            return copy.deepcopy(schema["default"])
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else list(types)
        if "null" in types:
            return None
        if "enum" in schema:
            return schema["enum"][0]
        kind = types[0] if types else "object"
        if kind in ("integer", "number"):
            return schema.get("minimum", 0)
        return {"array": [], "object": {}, "string": "", "boolean": False}.get(kind)

    def new_room(self, body: Mapping[str, Any], system: Mapping[str, Any]) -> dict[str, Any]:
        """The room a valid creation body makes: the fields the system sets (`system`: the ids),
        the sent fields, defaults for the others."""
        room = {field: copy.deepcopy(body[field]) if field in body else self.default_value(field)
                for field in self.DOCUMENTED_FIELDS if field not in system}
        return {**room, **system}

    def missing_put_fields(self, body: Mapping[str, Any]) -> list[str]:
        return [field for field in self.PUT_REQUIRED_FIELDS if field not in body]

    def unknown_fields(self, body: Mapping[str, Any]) -> list[str]:
        return sorted(set(body) - set(self.DOCUMENTED_FIELDS))

    def read_only_changes(self, body: Mapping[str, Any], room: Mapping[str, Any]) -> dict[str, Any]:
        """Read-only fields the body tries to change (sending the current value is not a change)."""
        return {field: body[field] for field in self.READ_ONLY_FIELDS if field in body and body[field] != room.get(field)}

    # -- comparing rooms ---------------------------------------------------------------------
    def comparable(self, room: Mapping[str, Any]) -> dict[str, Any]:
        """A room reduced to what the contract compares: documented fields, `x-compare: set`
        arrays without order (items reduced to their documented properties)."""
        view = {field: room.get(field) for field in self.DOCUMENTED_FIELDS}
        for field in self.SET_FIELDS:
            if isinstance(view.get(field), list):
                documented = self.spec.field_schema(field).get("items", {}).get("properties")
                view[field] = sorted(json.dumps({k: v for k, v in item.items() if documented is None or k in documented}
                                                if isinstance(item, dict) else item, sort_keys=True, ensure_ascii=False)
                                     for item in view[field])
        return view

    def differences(self, expected: Mapping[str, Any], observed: Mapping[str, Any],
                    fields: Iterable[str] | None = None) -> list[str]:
        """Human-readable differences between two rooms in `fields` (default: every documented
        field), compared as the contract does; two strings that differ by a known transformation
        say which (`(observed is NFC(expected))`: they may look alike)."""
        want, got = self.comparable(expected), self.comparable(observed)
        names = self.DOCUMENTED_FIELDS if fields is None else tuple(fields)
        return [f"{field}: expected {want.get(field)!r}, observed {got.get(field)!r}{_named(want.get(field), got.get(field))}"
                for field in names if want.get(field) != got.get(field)]

    # -- uniqueness and references -------------------------------------------------------------
    def unique_values(self, room_or_body: Mapping[str, Any], unique: Uniqueness | None = None) -> set[Any]:
        """The unique item values (e.g. codes) a room or body holds, over every `x-unique` field."""
        values: set[Any] = set()
        for rule in ([unique] if unique else self.UNIQUE):
            items = room_or_body.get(rule.array_field)
            if isinstance(items, list):
                values |= {item.get(rule.item_field) for item in items
                           if isinstance(item, dict) and isinstance(item.get(rule.item_field), (str, int, float))}
        return values

    def duplicate_codes(self, items: Any, unique: Uniqueness | None = None) -> set[Any]:
        """Values of the unique item field repeated in one array (nothing for a malformed array)."""
        rule = unique or (self.UNIQUE[0] if self.UNIQUE else None)
        if rule is None or not isinstance(items, list):
            return set()
        counts = Counter(item.get(rule.item_field) for item in items
                         if isinstance(item, dict) and isinstance(item.get(rule.item_field), str))
        return {value for value, count in counts.items() if count > 1}

    def body_duplicates(self, body: Any) -> set[Any]:
        if not isinstance(body, dict):
            return set()
        found: set[Any] = set()
        for rule in self.UNIQUE:
            found |= self.duplicate_codes(body.get(rule.array_field), rule)
        return found

    def scope_of(self, room: Mapping[str, Any], unique: Uniqueness) -> tuple[Any, ...]:
        """The values of the modifiable scope fields (read-only ones, like the account, are the
        same for every room the account lists)."""
        return tuple(room.get(field) for field in unique.scope if field in self.MODIFIABLE_FIELDS)

    def candidate(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """What a creation body asks for, as far as uniqueness is concerned."""
        fields = {rule.array_field for rule in self.UNIQUE} | {f for rule in self.UNIQUE for f in rule.scope
                                                               if f in self.MODIFIABLE_FIELDS}
        return {field: (body.get(field) if field in body else self.default_value(field)) for field in fields}

    def is_plain(self, schema: Mapping[str, Any], value: Any) -> bool:
        pattern = schema.get("x-plain-pattern")
        return pattern is None or (isinstance(value, str) and re.search(pattern, value) is not None)

    def unique_item_schema(self, unique: Uniqueness) -> dict[str, Any]:
        return self.spec.field_schema(unique.array_field)["items"]["properties"][unique.item_field]

    def is_plain_unique_value(self, value: Any) -> bool:
        """A unique item value (e.g. an access code) in its plain form (e.g. 6 digits)."""
        return all(self.is_plain(self.unique_item_schema(rule), value) for rule in self.UNIQUE)

    # -- values --------------------------------------------------------------------------------
    def invalid_value_reasons(self, body: Mapping[str, Any]) -> list[str]:
        """Why the modifiable values in `body` break the spec's body schema (empty: they are valid).

        Context-dependent rules (references, uniqueness across rooms) are not judged here.
        """
        subset = {field: body[field] for field in self.MODIFIABLE_FIELDS if field in body}
        errors = sorted(self._body_validator.iter_errors(subset), key=lambda error: list(error.path))
        return [f"{'.'.join(map(str, error.path)) or '(body)'}: {_short(error.message)}" for error in errors]

    def invalid_create_reasons(self, body: Mapping[str, Any]) -> list[str]:
        """Why the creatable values in `body` break the spec's creation schema (modifiable fields
        by the body schema too)."""
        subset = {field: body[field] for field in self.CREATABLE_FIELDS if field in body}
        errors = sorted(self._create_validator.iter_errors(subset), key=lambda error: list(error.path))
        reasons = [f"{'.'.join(map(str, error.path)) or '(body)'}: {_short(error.message)}" for error in errors]
        return reasons + [reason for reason in self.invalid_value_reasons(body) if reason not in reasons]

    def room_errors(self, room: Any) -> list[str]:
        return [error.message for error in self._room_validator.iter_errors(room)]


def _short(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."


@functools.lru_cache(maxsize=4)
def for_spec(spec: Spec) -> Model:
    return Model(spec)


def _named(expected: Any, observed: Any) -> str:
    """` (observed is NFC(expected))` when two strings differ by a transformation `textdiff` names."""
    named = textdiff.transformation(expected, observed) if isinstance(expected, str) and isinstance(observed, str) else None
    return f" ({named})" if named else ""
