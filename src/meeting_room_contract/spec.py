"""The OpenAPI spec: where it lives and the facts other modules read from it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "conference-v2-meeting-rooms.yaml"
ROOM_PATH = "/meeting_rooms/{meeting_room_sid}"


@functools.lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    """The spec as a dict (cached; treat as read-only)."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def component_schema(name: str) -> dict[str, Any]:
    return load_spec()["components"]["schemas"][name]


def meeting_room_fields() -> tuple[str, ...]:
    return tuple(component_schema("MeetingRoom")["properties"])


def read_only_fields() -> tuple[str, ...]:
    """Fields the spec marks `readOnly` on the Meeting Room object."""
    props = component_schema("MeetingRoom")["properties"]
    return tuple(name for name, prop in props.items() if prop.get("readOnly"))


def modifiable_fields() -> tuple[str, ...]:
    props = component_schema("MeetingRoom")["properties"]
    return tuple(name for name, prop in props.items() if not prop.get("readOnly"))


def access_code_roles() -> tuple[str, ...]:
    return tuple(component_schema("AccessCode")["properties"]["role"]["enum"])


def property_value_forms() -> list[dict[str, Any]]:
    """The documented value forms per kind of `properties` key (`x-value-forms` of Properties)."""
    return list(component_schema("Properties").get("x-value-forms", []))


def resolved_schema(name: str) -> dict[str, Any]:
    """A component schema with local `$ref`s inlined and `nullable` turned into JSON Schema."""
    return _to_json_schema(component_schema(name))


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _to_json_schema(component_schema(node["$ref"].rsplit("/", 1)[-1]))
    out = {key: _to_json_schema(value) for key, value in node.items() if key not in ("nullable", "example", "readOnly") and not key.startswith("x-")}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out
