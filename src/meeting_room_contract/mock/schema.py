"""The mock's reading of the OpenAPI file: field facts, defaults and body validators (PyYAML + jsonschema)."""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO_SPEC = Path(__file__).resolve().parents[3] / "openapi" / "conference-v2-meeting-rooms.yaml"
SPEC_ENV = "CONFERENCE_SPEC"
ROOM, CREATE, PATCH, PUT = "MeetingRoom", "MeetingRoomCreate", "MeetingRoomPatch", "MeetingRoomPut"
ROOM_PATH = "/meeting_rooms/{meeting_room_sid}"


def spec_file(path: str | os.PathLike[str] | None = None) -> Path:
    """The file the mock implements: `path`, else $CONFERENCE_SPEC, else the repository's spec
    (a directory stands for its one *.yaml file). ValueError when there is no such file."""
    given = Path(path or os.environ.get(SPEC_ENV) or REPO_SPEC).resolve()
    if given.is_dir():
        found = sorted(p for p in given.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if len(found) != 1:
            raise ValueError(f"{given}: a directory needs exactly one *.yaml spec file, it has {len(found)}")
        given = found[0]
    if not given.is_file():
        raise ValueError(f"spec {given} does not exist")
    return given


@dataclass(frozen=True)
class UniqueRule:
    """`x-unique` on an array field: `item_field` of its items is unique among rooms sharing `scope`."""

    array_field: str
    item_field: str
    scope: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """`x-references`: the field's value names an item (by `key`) of the account's `resource`."""

    field: str
    resource: str
    key: str


class ApiSchema:
    """One spec file as the mock needs it. Built once per file (`load`)."""

    def __init__(self, path: Path):
        self.path = path
        self.document: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        if not isinstance(self.document, dict) or not str(self.document.get("openapi", "")).startswith("3."):
            raise ValueError(f"{path} is not an OpenAPI 3 document")
        schemas = (self.document.get("components") or {}).get("schemas") or {}
        missing = [name for name in (ROOM, CREATE, PATCH, PUT) if name not in schemas]
        if missing:
            raise ValueError(f"{path} lacks components.schemas.{missing[0]}")
        room = self.schema(ROOM)
        self.fields: dict[str, dict[str, Any]] = dict(room.get("properties", {}))
        self.read_only = tuple(f for f, s in self.fields.items() if s.get("readOnly"))
        self.modifiable = tuple(f for f, s in self.fields.items() if not s.get("readOnly"))
        self.id_field = self._id_field()
        self.put_required = tuple(f for f in self.schema(PUT).get("required", []) if f not in self.read_only)
        self.creatable = tuple(self.schema(CREATE).get("properties", {}))
        self.unique = tuple(UniqueRule(f, s["x-unique"]["item-field"], tuple(s["x-unique"].get("scope", ())))
                            for f, s in self.fields.items() if "x-unique" in s)
        self.references = tuple(Reference(f, s["x-references"]["resource"], s["x-references"].get("field", f))
                                for f, s in self.fields.items() if "x-references" in s)
        self.patch_modes = {f: s["x-patch"] for f, s in self.fields.items() if "x-patch" in s and f in self.modifiable}
        self.since = tuple(f for f, s in self.fields.items() if "x-since" in s)
        self.value_forms = [form for s in self.fields.values() for form in s.get("x-value-forms", [])]
        self._validators = {name: jsonschema.Draft202012Validator(
            {"type": "object", "properties": self.schema(name).get("properties", {})}) for name in (CREATE, PATCH, PUT)}

    # -- reading the document -----------------------------------------------------------------------
    def schema(self, name: str) -> dict[str, Any]:
        """A component schema as JSON Schema: local $refs inlined, `nullable` as a null type."""
        return self._plain(self.document["components"]["schemas"][name])

    def _plain(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._plain(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return self._plain(self._at(node["$ref"]))
        out = {key: copy.deepcopy(value) if key.startswith("x-") else self._plain(value)
               for key, value in node.items() if key not in ("nullable", "example")}
        if node.get("nullable"):
            if "type" in out:
                out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        return out

    def _at(self, ref: str) -> Any:
        node: Any = self.document
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _id_field(self) -> str:
        for parameter in self.document.get("paths", {}).get(ROOM_PATH, {}).get("parameters", []):
            parameter = self._at(parameter["$ref"]) if "$ref" in parameter else parameter
            if parameter.get("in") == "path":
                return parameter["name"]
        return "meeting_room_sid"

    # -- what the server does with the facts ----------------------------------------------------------
    def default(self, field: str) -> Any:
        """The value a room gets for a field nobody sent: the spec's default, else null where the
        field may be null, else the first enum value, else the empty value of its type."""
        schema = self.fields[field]
        if "default" in schema:
            return copy.deepcopy(schema["default"])
        kinds = schema.get("type", [])
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        if "null" in kinds:
            return None
        if schema.get("enum"):
            return schema["enum"][0]
        kind = kinds[0] if kinds else "object"
        if kind in ("integer", "number"):
            return schema.get("minimum", 0)
        return {"array": [], "object": {}, "string": "", "boolean": False}.get(kind)

    def errors(self, body: dict[str, Any], schema_name: str, fields: tuple[str, ...]) -> list[str]:
        """Why the body's `fields` break the named body schema (empty: they are valid)."""
        subset = {field: body[field] for field in fields if field in body}
        found = sorted(self._validators[schema_name].iter_errors(subset), key=lambda error: [str(p) for p in error.path])
        return [f"{'.'.join(map(str, error.path)) or '(body)'}: {error.message[:160]}" for error in found]

    def item_properties(self, field: str) -> set[str] | None:
        """The documented properties of an array field's object items (None: not such an array)."""
        items = self.fields.get(field, {}).get("items")
        return set(items["properties"]) if isinstance(items, dict) and "properties" in items else None


@functools.lru_cache(maxsize=8)
def load(path: Path) -> ApiSchema:
    return ApiSchema(path)
