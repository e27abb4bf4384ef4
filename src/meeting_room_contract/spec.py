"""The OpenAPI spec: which one the run uses, and the facts other modules read from it.

The spec is a run option (`--spec PATH`, env `CONFERENCE_SPEC`; default the spec in `openapi/`):
`checked(path)` gives the `Spec` of a file once it is checked, and the run holds it (`Run.spec`);
the model, the strategies, the mock and the reports are handed that object (or its path). A
`Spec` answers for one file, so the mock can hold another version than the suite.

Where JSON Schema cannot say what the contract needs, the spec carries `x-` extensions that the
model reads (see README "The spec drives the suite"):

* `x-patch: merge | replace | merge-or-replace` how PATCH applies a nested object;
* `x-compare: set`                               an array compared without order;
* `x-unique: {item-field, scope}`                a value unique across rooms sharing `scope`;
* `x-references: {resource, field}`              a value naming another resource of the account;
* `x-plain-pattern`                              the form valid input uses (other values the
                                                 schema allows are edge values);
* `x-value-forms`                                the documented value forms per kind of key;
* `x-since`                                      the API version that added a field.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from pathlib import Path
from typing import Any, Callable

import yaml

DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "conference-v2-meeting-rooms.yaml"
ROOM_PATH = "/meeting_rooms/{meeting_room_sid}"
ROOM_SCHEMA, CREATE_SCHEMA, PATCH_SCHEMA, PUT_SCHEMA = "MeetingRoom", "MeetingRoomCreate", "MeetingRoomPatch", "MeetingRoomPut"
SPEC_ENV = "CONFERENCE_SPEC"
# libyaml's parser when PyYAML has it (10× faster than the pure-Python one; same documents)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """`yaml.safe_load`, with libyaml when available."""
    return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader


class Spec:
    """One version of the spec file (loaded once; treat what it returns as read-only)."""

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()
        raw = self.path.read_bytes()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.document: dict[str, Any] = parse_yaml(raw.decode("utf-8"))

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

    @property
    def description(self) -> str:
        return f"{self.path} (sha256 {self.short_hash}, API version {self.document.get('info', {}).get('version', '?')})"

    def component_schema(self, name: str) -> dict[str, Any]:
        return self.document["components"]["schemas"][name]

    @functools.lru_cache(maxsize=None)
    def resolved(self, name: str) -> dict[str, Any]:
        """A component schema with local `$ref`s inlined and `nullable` turned into JSON Schema
        (`x-` extensions and `readOnly` are kept: JSON Schema validators ignore them)."""
        return self._to_json_schema(self.component_schema(name))

    def _to_json_schema(self, node: Any) -> Any:
        """One schema object (a `$ref` resolved); its keywords read by their place (`map_subschemas`):
        `nullable` and `example` are dropped where they are keywords, never as field names."""
        if not isinstance(node, dict):
            return copy.deepcopy(node)  # a boolean schema
        if "$ref" in node:
            return self._to_json_schema(self.pointer(node["$ref"]))
        out = {key: map_subschemas(key, value, self._to_json_schema)
               for key, value in node.items() if key not in ("nullable", "example")}
        if node.get("nullable"):
            if "type" in out:
                out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        return out

    def pointer(self, ref: str) -> Any:
        """The node a local `$ref` (`#/a/b/c`) names."""
        node: Any = self.document
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def id_field(self) -> str:
        """The field that identifies a room: the path parameter of the room's path."""
        for parameter in self.document["paths"][ROOM_PATH].get("parameters", []):
            parameter = self.pointer(parameter["$ref"]) if "$ref" in parameter else parameter
            if parameter.get("in") == "path":
                return parameter["name"]
        raise ValueError(f"{ROOM_PATH} has no path parameter")

    def room_fields(self) -> tuple[str, ...]:
        return tuple(self.resolved(ROOM_SCHEMA)["properties"])

    def field_schema(self, name: str) -> dict[str, Any]:
        """The resolved schema of a Meeting Room field (its semantics live here)."""
        return self.resolved(ROOM_SCHEMA)["properties"][name]

    def read_only_fields(self) -> tuple[str, ...]:
        return tuple(name for name in self.room_fields() if self.field_schema(name).get("readOnly"))

    def modifiable_fields(self) -> tuple[str, ...]:
        return tuple(name for name in self.room_fields() if not self.field_schema(name).get("readOnly"))

    def put_required_fields(self) -> tuple[str, ...]:
        read_only = set(self.read_only_fields())
        return tuple(name for name in self.resolved(PUT_SCHEMA).get("required", []) if name not in read_only)

    def fields_with(self, extension: str) -> dict[str, Any]:
        """{field: value of `extension`} for Meeting Room fields whose schema carries it."""
        return {name: self.field_schema(name)[extension] for name in self.room_fields()
                if extension in self.field_schema(name)}

    def property_value_forms(self) -> list[dict[str, Any]]:
        """The documented value forms per kind of key: `x-value-forms` of any field's schema."""
        forms: list[dict[str, Any]] = []
        for schema in self.fields_with("x-value-forms").values():
            forms.extend(schema)
        return forms


# -- reading a schema by its structure ---------------------------------------------------------------
# A key is a keyword only in a schema object. What a keyword's value holds: one schema, a list of
# schemas, or a map whose KEYS ARE NAMES (field names of `properties`, patterns, definitions) and
# whose values are schemas. Every other value is data (`enum`, `default`, `required`, `example`, the
# `x-` extensions): its keys are never keywords. So a field named `description`, `type` or `x-since`
# is a field, and only a schema's own `description` is a description.
SUBSCHEMA_KEYWORDS = frozenset({"items", "additionalProperties", "additionalItems", "not", "contains", "propertyNames",
                                "if", "then", "else", "unevaluatedItems", "unevaluatedProperties", "contentSchema"})
SUBSCHEMA_LIST_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
SUBSCHEMA_MAP_KEYWORDS = frozenset({"properties", "patternProperties", "dependentSchemas", "dependencies",
                                    "$defs", "definitions"})


def subschema_form(keyword: str, value: Any) -> str | None:
    """How the value of schema keyword `keyword` holds schemas: "schema", "list" (of schemas), "map"
    (names to schemas), or None (data)."""
    if keyword in SUBSCHEMA_KEYWORDS:
        return "schema" if isinstance(value, dict) else "list" if isinstance(value, list) else None
    if keyword in SUBSCHEMA_LIST_KEYWORDS and isinstance(value, list):
        return "list"
    if keyword in SUBSCHEMA_MAP_KEYWORDS and isinstance(value, dict):
        return "map"
    return None


def map_subschemas(keyword: str, value: Any, function: Callable[[Any], Any]) -> Any:
    """The value of schema keyword `keyword` with `function` applied to each schema object it holds
    (a map's keys are kept as names); data is copied as it is."""
    def each(node: Any) -> Any:
        return function(node) if isinstance(node, dict) else copy.deepcopy(node)

    form = subschema_form(keyword, value)
    if form == "schema":
        return function(value)
    if form == "list":
        return [each(item) for item in value]
    if form == "map":
        return {name: each(node) for name, node in value.items()}
    return copy.deepcopy(value)


def strip_extensions(node: Any) -> Any:
    """A resolved schema without `x-` keys and `readOnly` where they are keywords (what generators
    compare); fields of those names stay."""
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    return {key: map_subschemas(key, value, strip_extensions) for key, value in node.items()
            if not key.startswith("x-") and key != "readOnly"}


# -- choosing and checking a spec file -------------------------------------------------------------

REQUIRED_SCHEMAS = (ROOM_SCHEMA, CREATE_SCHEMA, PATCH_SCHEMA, PUT_SCHEMA)  # what the model reads
SPEC_SUFFIXES = (".yaml", ".yml")


def spec_file(path: str | Path) -> Path:
    """The spec file `path` names: the file itself, or the one `*.yaml` file of a directory.

    ValueError (one line) when there is no such file or a directory holds none or several."""
    given = Path(path).resolve()
    if given.is_dir():
        found = sorted(p for p in given.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file())
        if not found:
            raise ValueError(f"{given} is a directory without a *.yaml spec file: give the spec file")
        if len(found) > 1:
            raise ValueError(f"{given} is a directory with {len(found)} *.yaml files ({', '.join(p.name for p in found)}): "
                             "give the spec file itself")
        return found[0]
    if not given.is_file():
        raise ValueError(f"spec {given} does not exist")
    return given


def check_spec_file(path: Path, *, checked_sha256: str | None = None) -> None:
    """ValueError (one line) unless `path` is a valid OpenAPI 3 document with what the suite needs.

    openapi-spec-validator judges the document; the suite then needs the Meeting Room schemas
    (`components.schemas`) and the room path."""
    raw = path.read_bytes()
    if checked_sha256 is not None and hashlib.sha256(raw).hexdigest() == checked_sha256:
        return  # this very file was checked already (by the xdist controller that started this worker)
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPISpecValidatorError, OpenAPIValidationError
    from referencing.exceptions import Unresolvable as ReferencingError

    try:
        document = parse_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text, so not a YAML spec") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise ValueError(f"{path} is not valid YAML ({problem}{where})") from None
    version = document.get("openapi") if isinstance(document, dict) else None
    if not (isinstance(version, str) and version.startswith("3.")):
        raise ValueError(f"{path} is not an OpenAPI 3 document (no `openapi: 3.x` at the top)")
    try:
        validate(document, base_uri=path.as_uri())
    except (OpenAPIValidationError, OpenAPISpecValidatorError, ReferencingError, ValueError, LookupError) as error:  # the validator's verdicts on the document
        message = (getattr(error, "message", None) or str(error) or type(error).__name__).strip().splitlines()[0]
        location = "/".join(str(part) for part in getattr(error, "path", ()) or ())
        raise ValueError(f"{path} is not a valid OpenAPI {version} document (openapi-spec-validator: "
                         f"{message[:200]}{f' at {location}' if location else ''})") from None
    schemas = (document.get("components") or {}).get("schemas") or {}
    missing = [name for name in REQUIRED_SCHEMAS if name not in schemas]
    if missing:
        raise ValueError(f"{path} lacks components.schemas.{missing[0]}: the suite needs "
                         f"{', '.join(REQUIRED_SCHEMAS)} (see README, 'The spec drives the suite')")
    if ROOM_PATH not in (document.get("paths") or {}):
        raise ValueError(f"{path} lacks the path {ROOM_PATH}: the suite tests its PATCH and PUT")


def checked(path: str | Path | None, *, checked_sha256: str | None = None) -> Spec:
    """The spec at `path` (None: the default; a directory: its one `*.yaml`), once checked
    (`check_spec_file`; ValueError, one line, otherwise). `checked_sha256`: the hash of a file
    already checked in this run (an xdist worker's spec, checked by its controller)."""
    file = spec_file(path or DEFAULT_SPEC_PATH)
    check_spec_file(file, checked_sha256=checked_sha256)
    return at(str(file))


@functools.lru_cache(maxsize=4)
def at(path: str) -> Spec:
    """A spec file other than the run's (e.g. the default one, for a backend on an older API)."""
    return Spec(path)


def default() -> Spec:
    return at(str(DEFAULT_SPEC_PATH))


# Module-level shortcuts to the DEFAULT spec (openapi/), for tools and tests that read it.

def load_spec() -> dict[str, Any]:
    return default().document


def component_schema(name: str) -> dict[str, Any]:
    return default().component_schema(name)


def read_only_fields() -> tuple[str, ...]:
    return default().read_only_fields()


def resolved_schema(name: str) -> dict[str, Any]:
    return copy.deepcopy(default().resolved(name))
