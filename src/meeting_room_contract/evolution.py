"""Copies of the spec with the changes QA makes when the API changes (the API-evolution self-test).

Each `Evolution` edits a copy of the default spec the way QA would (YAML in, YAML out) and names
a mock fault that mishandles the change, with the rule the unchanged suite must catch it under.
`tests/test_api_evolution.py` runs the suite with `--spec` on each copy: against the correct mock
started from that spec it must pass; with the fault it must fail under that rule.

    python -m meeting_room_contract.evolution DIR     # write the evolved specs to DIR (to try them by hand)
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from . import spec

Document = dict[str, Any]
BODY_SCHEMAS = (spec.CREATE_SCHEMA, spec.PATCH_SCHEMA, spec.PUT_SCHEMA)


def _schemas(doc: Document) -> Document:
    return doc["components"]["schemas"]


def add_integer_field(doc: Document) -> None:
    """A new modifiable field of another type: an integer with bounds and a default."""
    field = {"type": "integer", "minimum": 2, "maximum": 500, "default": 100, "x-since": "2.1",
             "description": "[DOC 2.1] the most participants the room admits."}
    room = _schemas(doc)[spec.ROOM_SCHEMA]
    room["properties"]["max_participants"] = dict(field)
    room["required"].append("max_participants")
    for name in BODY_SCHEMAS:
        _schemas(doc)[name]["properties"]["max_participants"] = dict(field)
    _schemas(doc)[spec.PUT_SCHEMA]["required"].append("max_participants")


def add_role(doc: Document) -> None:
    """A new enum value: access codes get the role `moderator`."""
    role = _schemas(doc)["AccessCode"]["properties"]["role"]
    role["enum"] = [*role["enum"], "moderator"]


def limit_name_length(doc: Document) -> None:
    """A `maxLength` on `name` (responses and bodies)."""
    _schemas(doc)["RoomName"]["maxLength"] = 80
    _schemas(doc)[spec.ROOM_SCHEMA]["properties"]["name"]["maxLength"] = 80


def make_name_read_only(doc: Document) -> None:
    """A modifiable field turned read-only: `name` is set at creation and never changed after."""
    _schemas(doc)[spec.ROOM_SCHEMA]["properties"]["name"]["readOnly"] = True
    for name in (spec.PATCH_SCHEMA, spec.PUT_SCHEMA):
        _schemas(doc)[name]["properties"]["name"] = {"type": "string", "readOnly": True}
    put = _schemas(doc)[spec.PUT_SCHEMA]
    put["required"] = [field for field in put["required"] if field != "name"]


@dataclass(frozen=True)
class Evolution:
    name: str
    change: Callable[[Document], None]
    fault: str  # a mock fault (behaviours.FAULTS or SPEC_FAULTS) that mishandles the change
    rule: str  # the rule the suite must catch the fault under

    def document(self, base: Path | None = None) -> Document:
        doc = copy.deepcopy(yaml.safe_load((base or spec.DEFAULT_SPEC_PATH).read_text(encoding="utf-8")))
        doc["info"]["version"] = f"{doc['info']['version']}+{self.name}"
        self.change(doc)
        return doc

    def write(self, directory: Path) -> Path:
        path = Path(directory) / f"evolved-{self.name}.yaml"
        path.write_text(yaml.safe_dump(self.document(), sort_keys=False, allow_unicode=True), encoding="utf-8")
        return path


EVOLUTIONS = [
    Evolution("integer_field", add_integer_field, "patch_ignores_x_since", "patch.partial_update"),
    Evolution("new_role", add_role, "patch_validates_by_old_spec", "patch.partial_update"),
    Evolution("name_max_length", limit_name_length, "backend_on_old_spec", "bad_input.rejected"),
    Evolution("name_read_only", make_name_read_only, "backend_on_old_spec", "read_only.never_applied"),
]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else ".")
    directory.mkdir(parents=True, exist_ok=True)
    for evolution in EVOLUTIONS:
        print(f"{evolution.write(directory)}  (fault {evolution.fault} -> {evolution.rule})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
