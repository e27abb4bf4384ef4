"""What changed between two versions of the spec, as far as the contract is concerned.

    python -m meeting_room_contract.specdiff OLD.yaml NEW.yaml [--json]

Lists the changes that touch the contract — fields added or removed, `readOnly` flips, enum
values, required fields, types and nullability, lengths, patterns and bounds, the `x-`
extensions the model reads, operations and documented statuses — each with the rules of
`CONTRACT.md` it affects. The structural diff is DeepDiff's (a maintained library); this module
only knows which schemas matter and what a change means for the contract. Schemas are read by
their structure: the descriptions, examples and titles of a schema are ignored, and a field is a
field whatever it is called (inside `properties`, `description`, `type` or `x-since` name fields).
Exit status: 0 no contract change, 1 changes listed, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from deepdiff import DeepDiff

from . import spec as spec_module
from .rules import RULES
from .spec import Spec

SCHEMAS = (spec_module.ROOM_SCHEMA, spec_module.CREATE_SCHEMA, spec_module.PATCH_SCHEMA, spec_module.PUT_SCHEMA)
IGNORED_KEYWORDS = {"description", "example", "examples", "title"}
VALUE_RULES = ("bad_input.rejected", "round_trip.exact_values", "shape.meeting_room_schema")
# keyword of the changed node -> (kind of change, rules it affects)
KEYWORD_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "readOnly": ("readOnly flip", ("read_only.never_applied", "read_only.current_value_accepted", "patch.partial_update",
                                   "put.full_replacement", "put.all_fields_required")),
    "enum": ("enum", ("bad_input.rejected", "patch.partial_update", "put.full_replacement", "shape.meeting_room_schema")),
    "required": ("required fields", ("put.all_fields_required", "shape.meeting_room_schema")),
    "type": ("type", ("bad_input.rejected", "shape.meeting_room_schema", "patch.partial_update")),
    "nullable": ("type", ("bad_input.rejected", "shape.meeting_room_schema", "patch.partial_update")),
    "additionalProperties": ("additionalProperties", ("bad_input.rejected", "bad_input.unknown_field")),
    "x-patch": ("extension x-patch", ("patch.properties_merge_or_replace", "patch.partial_update")),
    "x-compare": ("extension x-compare", ("patch.partial_update", "put.full_replacement", "round_trip.exact_values")),
    "x-unique": ("extension x-unique", ("uniqueness.within_room", "uniqueness.across_rooms", "uniqueness.conflict_explained")),
    "x-references": ("extension x-references", ("bad_input.rejected", "isolation.accounts")),
    "x-plain-pattern": ("extension x-plain-pattern (valid input)", ("round_trip.exact_values", "patch.partial_update",
                                                                    "put.full_replacement")),
    "x-value-forms": ("extension x-value-forms (valid input)", ("round_trip.exact_values", "patch.partial_update")),
    "x-since": ("extension x-since", ("patch.partial_update",)),
}
for _keyword in ("maxLength", "minLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                 "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties", "format", "multipleOf"):
    KEYWORD_RULES[_keyword] = ("length, pattern or bounds", VALUE_RULES)
FIELD_RULES = ("shape.meeting_room_schema", "patch.partial_update", "put.full_replacement", "put.all_fields_required",
               "bad_input.rejected", "round_trip.exact_values")
OPERATION_RULES = ("status.documented_codes", "shape.response_conformance")


@dataclass
class Change:
    kind: str
    where: str  # field path, e.g. `access_codes[].role`, or an operation
    schemas: list[str]
    old: Any
    new: Any
    rules: list[str]

    def line(self) -> str:
        def shown(value: Any) -> str:
            return "-" if value is None else json.dumps(value, ensure_ascii=False, default=str)
        return (f"{self.kind:40} {self.where:40} {shown(self.old)} -> {shown(self.new)}"
                f"   [{', '.join(self.schemas)}]   rules: {', '.join(self.rules)}")


def _clean(node: Any) -> Any:
    """A resolved schema without descriptions, examples and titles: dropped where they are keywords
    of a schema object, never where they name a field (`properties` maps names to schemas) or sit
    in data (`enum`, `default`, the `x-` extensions)."""
    if not isinstance(node, dict):
        return node
    return {key: spec_module.map_subschemas(key, value, _clean) for key, value in node.items()
            if key not in IGNORED_KEYWORDS}


def _field_path(parts: list[Any]) -> tuple[str, str | None]:
    """(`a.b[].c` of the schema path, the keyword changed) from DeepDiff's path list.

    The path is read by its structure: after `properties` comes a field name (whatever it is
    called), after `allOf`/`anyOf`/`oneOf` a branch index; the first other keyword of a schema
    object is the keyword changed (None: a whole field was added, removed or replaced)."""
    names: list[str] = []
    keyword = None
    index = 0
    while index < len(parts):
        part = parts[index]
        following = index + 1 < len(parts)
        if part in spec_module.SUBSCHEMA_MAP_KEYWORDS and following:
            name = str(parts[index + 1])
            names.append(name if part == "properties" else f"<{name}>" if part == "patternProperties"
                         else f"{part}/{name}")
            index += 2
            continue
        if part in ("items", "prefixItems", "additionalItems"):
            names[-1:] = [(names[-1] if names else "") + "[]"]
            index += 2 if following and isinstance(parts[index + 1], int) else 1
            continue
        if part == "additionalProperties" and following:
            names.append("*")
        elif part in spec_module.SUBSCHEMA_LIST_KEYWORDS and following and isinstance(parts[index + 1], int) \
                and index + 2 < len(parts):
            index += 2  # inside one branch: the same field
            continue
        elif part in spec_module.SUBSCHEMA_KEYWORDS and part != "additionalProperties" and following:
            names[-1:] = [(names[-1] if names else "") + f"({part})"]
        elif isinstance(part, str):
            keyword = part
            break
        index += 1
    return ".".join(names) or "(object)", keyword


def schema_changes(old: Spec, new: Spec) -> list[Change]:
    merged: dict[tuple[str, str, str, str], Change] = {}
    for name in SCHEMAS:
        before = _clean(old.resolved(name)) if name in old.document["components"]["schemas"] else {}
        after = _clean(new.resolved(name)) if name in new.document["components"]["schemas"] else {}
        diff = DeepDiff(before, after, view="tree", ignore_order=True)
        for report_type, items in diff.items():
            for item in items:
                parts = item.path(output_format="list")
                where, keyword = _field_path(parts)
                old_value = None if _absent(item.t1) else item.t1
                new_value = None if _absent(item.t2) else item.t2
                if keyword is None:  # a whole property added or removed
                    kind = "field added" if report_type == "dictionary_item_added" else (
                        "field removed" if report_type == "dictionary_item_removed" else "field changed")
                    rules = FIELD_RULES
                else:
                    kind, rules = KEYWORD_RULES.get(keyword, (f"keyword {keyword}", VALUE_RULES))
                    if keyword in ("enum", "required") and report_type.startswith("iterable_item"):
                        kind = f"{kind} {'+' if report_type.endswith('added') else '-'}"
                    if keyword == "required" and report_type.startswith("iterable_item"):
                        where = ".".join(filter(None, [where if where != "(object)" else "", str(old_value or new_value)]))
                        old_value, new_value = ("required", "optional") if old_value else ("optional", "required")
                    if keyword == "required" and name == spec_module.ROOM_SCHEMA:
                        rules = ("shape.meeting_room_schema",)
                    elif keyword == "required" and name == spec_module.PUT_SCHEMA:
                        rules = ("put.all_fields_required", "put.full_replacement")
                    elif keyword == "required":
                        rules = ("bad_input.rejected",)
                key = (kind, where, json.dumps(old_value, default=str), json.dumps(new_value, default=str))
                change = merged.setdefault(key, Change(kind, where, [], old_value, new_value, list(rules)))
                change.schemas.append(name)
                change.rules = sorted(set(change.rules) | set(rules))
    return sorted(merged.values(), key=lambda change: (change.where, change.kind))


def _absent(value: Any) -> bool:
    return type(value).__name__ == "NotPresent"


def operation_changes(old: Spec, new: Spec) -> list[Change]:
    def statuses(document: dict[str, Any]) -> set[tuple[str, str, str]]:
        found = set()
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    found |= {(path, method.upper(), str(status)) for status in operation["responses"]}
        return found

    before, after = statuses(old.document), statuses(new.document)
    changes = [Change("status documented", f"{method} {path}", [], None, status, list(OPERATION_RULES))
               for path, method, status in sorted(after - before)]
    changes += [Change("status no longer documented", f"{method} {path}", [], status, None, list(OPERATION_RULES))
                for path, method, status in sorted(before - after)]
    return changes


def contract_changes(old: Spec, new: Spec) -> list[Change]:
    changes = schema_changes(old, new) + operation_changes(old, new)
    unknown = {rule for change in changes for rule in change.rules} - set(RULES)
    assert not unknown, f"specdiff names rules that are not in the registry: {unknown}"
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meeting_room_contract.specdiff", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", help="the spec before (e.g. openapi/conference-v2-meeting-rooms.yaml of main)")
    parser.add_argument("new", help="the spec after (the candidate)")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")
    args = parser.parse_args(argv)
    try:
        old, new = Spec(args.old), Spec(args.new)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    changes = contract_changes(old, new)
    if args.json:
        print(json.dumps({"old": old.description, "new": new.description, "changes": [asdict(c) for c in changes]},
                         indent=2, ensure_ascii=False, default=str))
    else:
        print(f"old: {old.description}\nnew: {new.description}")
        if not changes:
            print("no change touches the contract")
        for change in changes:
            print(change.line())
        affected = sorted({rule for change in changes for rule in change.rules})
        if affected:
            print(f"{len(changes)} change(s); rules affected: {', '.join(affected)}")
    return 1 if changes else 0


if __name__ == "__main__":
    sys.exit(main())
