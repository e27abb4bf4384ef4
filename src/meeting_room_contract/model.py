"""The contract model: what PATCH and PUT do, and which behaviours the contract allows.

Shapes come from the spec; this module holds the semantics of `CONTRACT.md`. The mock
applies updates with these functions and the checks predict expected states with the same
ones, so the merge rule is written exactly once.
"""

from __future__ import annotations

import copy
import re
import enum
from collections import Counter
from typing import Any, Iterable, Mapping

from . import spec

READ_ONLY_FIELDS: tuple[str, ...] = spec.read_only_fields()
MODIFIABLE_FIELDS: tuple[str, ...] = spec.modifiable_fields()
DOCUMENTED_FIELDS: tuple[str, ...] = spec.meeting_room_fields()
ROLES: tuple[str, ...] = spec.access_code_roles()
# Codes are DTMF sequences (D); letters and empty codes are invalid. 6 digits, like the docs'
# samples, is the plain form; other lengths and `*`/`#` are edge values (A: may be refused).
DTMF_CODE = re.compile(r"[0-9*#]+")
PLAIN_CODE = re.compile(r"[0-9]{6}")


class PropertiesMode(str, enum.Enum):
    """How PATCH applies a nested `properties` object (contract A: either is allowed)."""

    MERGE = "merge"
    REPLACE = "replace"


def apply_patch(room: Mapping[str, Any], body: Mapping[str, Any], properties_mode: PropertiesMode) -> dict[str, Any]:
    """The state after a PATCH: sent modifiable fields set, everything else kept."""
    updated = copy.deepcopy(dict(room))
    for field in MODIFIABLE_FIELDS:
        if field not in body:
            continue
        value = copy.deepcopy(body[field])
        if field == "properties" and properties_mode is PropertiesMode.MERGE and isinstance(value, dict):
            old = updated.get("properties")
            value = {**(old if isinstance(old, dict) else {}), **value}
        updated[field] = value
    return updated


def apply_put(room: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The state after a valid PUT: every modifiable field replaced by the body's value."""
    updated = copy.deepcopy(dict(room))
    for field in MODIFIABLE_FIELDS:
        updated[field] = copy.deepcopy(body[field])
    return updated


def missing_put_fields(body: Mapping[str, Any]) -> list[str]:
    return [field for field in MODIFIABLE_FIELDS if field not in body]


def unknown_fields(body: Mapping[str, Any]) -> list[str]:
    return sorted(set(body) - set(DOCUMENTED_FIELDS))


def read_only_changes(body: Mapping[str, Any], room: Mapping[str, Any]) -> dict[str, Any]:
    """Read-only fields the body tries to change (sending the current value is not a change)."""
    return {field: body[field] for field in READ_ONLY_FIELDS if field in body and body[field] != room.get(field)}


def access_code_pairs(codes: Iterable[Mapping[str, Any]] | None) -> list[tuple[Any, Any]]:
    """Access codes as a sorted list of (code, role): order is not part of the contract."""
    return sorted(((entry.get("access_code"), entry.get("role")) for entry in codes or []), key=repr)


def comparable(room: Mapping[str, Any]) -> dict[str, Any]:
    """A room reduced to what the contract compares: documented fields, codes order-free."""
    view = {field: room.get(field) for field in DOCUMENTED_FIELDS}
    view["access_codes"] = access_code_pairs(room.get("access_codes"))
    return view


def differences(expected: Mapping[str, Any], observed: Mapping[str, Any], fields: Iterable[str] | None = None) -> list[str]:
    """Human-readable differences between two rooms in `fields` (default: every documented
    field), compared as the contract does."""
    want, got = comparable(expected), comparable(observed)
    names = DOCUMENTED_FIELDS if fields is None else tuple(fields)
    return [f"{field}: expected {want[field]!r}, observed {got[field]!r}" for field in names if want[field] != got[field]]


def duplicate_codes(codes: Any) -> set[str]:
    """Codes that appear more than once in an access-code list (nothing for a malformed list)."""
    if not isinstance(codes, list):
        return set()
    counts = Counter(entry.get("access_code") for entry in codes
                     if isinstance(entry, dict) and isinstance(entry.get("access_code"), str))
    return {code for code, count in counts.items() if count > 1}


def invalid_value_reasons(body: Mapping[str, Any]) -> list[str]:
    """Why the modifiable values in `body` break the value rules (empty list: they are valid).

    Context-dependent rules (DID group ownership, uniqueness across rooms) are not judged here.
    """
    reasons: list[str] = []
    if "name" in body and not isinstance(body["name"], str):
        reasons.append("name must be a string")
    if "properties" in body:
        props = body["properties"]
        if not isinstance(props, dict):
            reasons.append("properties must be an object")
        elif any(not isinstance(value, str) for value in props.values()):
            reasons.append("properties values must be strings")
    if "did_group_sid" in body and body["did_group_sid"] is not None and not isinstance(body["did_group_sid"], str):
        reasons.append("did_group_sid must be a string or null")
    if "access_codes" in body:
        reasons.extend(_access_code_reasons(body["access_codes"]))
    return reasons


def _access_code_reasons(codes: Any) -> list[str]:
    if not isinstance(codes, list):
        return ["access_codes must be an array"]
    reasons = []
    for index, entry in enumerate(codes):
        if not isinstance(entry, dict):
            reasons.append(f"access_codes[{index}] must be an object")
            continue
        code, role = entry.get("access_code"), entry.get("role")
        if not isinstance(code, str) or not DTMF_CODE.fullmatch(code):
            reasons.append(f"access_codes[{index}].access_code must be a DTMF string (digits, * or #)")
        if role not in ROLES:
            reasons.append(f"access_codes[{index}].role must be one of {', '.join(ROLES)}")
    return reasons
