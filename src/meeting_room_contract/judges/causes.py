"""Root causes: the most basic rule that explains a failure, read from what its story sent and saw.

Pure (no I/O): a failure's story document (the rule, the compared states, the requests as sent and
what each answered: `stories.document`) and the contract model in, a `Clue` out. Two causes are known:

* **A PATCH changed fields it did not send** (`patch.partial_update`, whatever test saw it): a 2xx
  PATCH of the story answered (or was read back, before any other change of the room) with a
  modifiable field that the PATCH did not send holding neither the room's value before it nor a
  value that a PATCH sent at the same time could have given it. A failure whose own differences
  touch such a field (a round trip, a request form, a lost update, ...) is that PATCH's failure.
* **The target never returns a field of the spec**: every difference of the failure is a field the
  request set that came back without a value, or an invalid value of a field that was accepted. The
  clue names the fields; the run decides at its end (`resolve`): when no room answer of the whole
  run carried a field, its failures are one finding, "the target never returns F".
* **The target stores text changed** (`round_trip.exact_values`, whatever write path or rule saw
  it): every difference of the failure is a string field whose observed value is its expected value
  under one character-level transformation `textdiff` names (a Unicode normal form, non-ASCII
  characters replaced by `?`, HTML escaping, invisible or astral characters removed, whitespace
  converted); the transformations a stale or unrelated value could match by chance (case,
  truncation) are left to the failure's own rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .. import textdiff
from ..model import Model, PropertiesMode
from ..stories import failing_step

UNSENT_RULE = "patch.partial_update"
UNSENT_OPERATION = "PATCH /meeting_rooms/{sid}"
UNSENT_FINDING = "a PATCH changed fields it did not send"
NEVER_RETURNED_RULE = "round_trip.exact_values"  # a value the target accepts must come back: it never does
NEVER_RETURNED_OPERATION = "every room answer"
TEXT_RULE = "round_trip.exact_values"
TEXT_OPERATION = "every write path"
# textdiff's transformations that are a server's character handling, never a stale or unrelated value by chance
_TEXT_KINDS = ("observed is NF", "characters replaced by", "UTF-8 byte of its", "HTML-escaped", "HTML-unescaped",
               "without its invisible", "astral character", "whitespace converted", "runs of whitespace",
               "whitespace (")
CHANGING = ("POST", "PATCH", "PUT", "DELETE")


@dataclass(frozen=True)
class Clue:
    """What a failure's evidence says of its cause: `unsent` (fields a PATCH changed without sending
    them: the cause is known), or `silent` (fields the failure is only about, which came back empty
    or whose invalid value was accepted: the cause if the run never saw them returned)."""

    unsent: tuple[str, ...] = ()
    silent: tuple[str, ...] = ()
    text: str = ""  # the transformation every difference is (textdiff's words, without counts and names)

    @property
    def tag(self) -> str:
        """How failures are kept apart until the run's end (`resolve`)."""
        if self.unsent:
            return "unsent:" + ",".join(self.unsent)
        if self.silent:
            return "silent:" + ",".join(self.silent)
        return "text:" + self.text if self.text else ""


@dataclass(frozen=True)
class Cause:
    """The group a failure belongs to: its rule and operation, and the finding when it is not the failure's own."""

    rule: str
    operation: str
    finding: str = ""
    fields: tuple[str, ...] = field(default=())

    @property
    def line(self) -> str:
        """The finding with its fields (the never-returned finding names them itself)."""
        if self.finding == UNSENT_FINDING and self.fields:
            return f"{self.finding}: {', '.join(self.fields)}"
        return self.finding


def _room(text: Any, id_field: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text) if isinstance(text, str) and text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) and id_field in data else None


def _body(step: Mapping[str, Any]) -> Any:
    try:
        return json.loads(step.get("body") or "null")
    except ValueError:
        return None


def _sid(step: Mapping[str, Any]) -> str | None:
    parts = str(step.get("path", "")).split("?")[0].split("/")
    if len(parts) >= 3 and parts[1] == "meeting_rooms" and parts[2]:
        return parts[2]
    return step.get("created")


def _ok(step: Mapping[str, Any]) -> bool:
    return 200 <= int(step.get("status") or 0) < 300


def unsent_fields_changed(model: Model, steps: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Modifiable fields that a 2xx PATCH of the story changed without sending them, in the spec's order;
    empty when none did. Judged on the room read back by sid after the PATCH (before any other change of
    it), else on the PATCH's answer: a stale answer is another rule's failure, the stored room is the
    PATCH's doing."""
    states: dict[str, dict[str, Any]] = {}  # the room as last seen, by sid
    group_before: dict[tuple[str, int], dict[str, Any]] = {}  # the room before PATCHes sent at the same time
    steps = list(steps)
    last_patch: dict[str, tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = {}
    pending: dict[str, set[str]] = {}  # by sid: what the last PATCH's answer showed (a read-back replaces it)
    changed: set[str] = set()
    for step in steps:
        sid, method = _sid(step), str(step.get("method", "")).upper()
        answered = _room(step.get("answer"), model.ID_FIELD) if _ok(step) else None
        body = _body(step)
        if method in CHANGING and sid is not None:
            changed |= pending.pop(sid, set())
            last_patch.pop(sid, None)
        if method == "PATCH" and sid in states and answered is not None and isinstance(body, dict):
            group = step.get("concurrent")
            before = group_before.setdefault((sid, group), states[sid]) if group is not None else states[sid]
            others = [b for s in steps if group is not None and s is not step and s.get("concurrent") == group
                      and _sid(s) == sid and str(s.get("method", "")).upper() == "PATCH" and isinstance(b := _body(s), dict)]
            pending[sid] = _changed_unsent(model, before, body, others, answered)
            last_patch[sid] = (before, body, others)
        elif method == "GET" and sid in last_patch and answered is not None:
            before, body, others = last_patch.pop(sid)
            pending[sid] = _changed_unsent(model, before, body, others, answered)
        if answered is not None and sid is not None:
            states[sid] = answered
    for found in pending.values():
        changed |= found
    return tuple(f for f in model.MODIFIABLE_FIELDS if f in changed)


def _changed_unsent(model: Model, before: Mapping[str, Any], body: Mapping[str, Any], others: list[dict[str, Any]],
                    seen: Mapping[str, Any]) -> set[str]:
    """Fields the PATCH `body` did not send whose value in `seen` nothing sent explains."""
    was, now = model.comparable(before), model.comparable(seen)
    changed = set()
    for name in model.MODIFIABLE_FIELDS:
        if name in body or now.get(name) == was.get(name):
            continue
        allowed = [model.comparable(model.apply_patch(before, other, mode)).get(name)
                   for other in others if name in other for mode in PropertiesMode]
        if now.get(name) not in allowed:
            changed.add(name)
    return changed


def differing_fields(model: Model, expected: Any, observed: Any) -> tuple[str, ...]:
    """The documented fields two compared room states differ in (none unless both are states)."""
    if not (isinstance(expected, Mapping) and isinstance(observed, Mapping)):
        return ()
    return tuple(name for name in model.DOCUMENTED_FIELDS if expected.get(name) != observed.get(name)
                 and (name in expected or name in observed))


_DETAIL_FIELD = re.compile(r"(?:^|; )([A-Za-z_]\w*)(?:\.[^:;]*)?: expected ")


def judged_fields(model: Model, doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields a state comparison found different, as its judge listed them in the detail (`field: expected
    ..., observed ...`; a nested key counts for its field); else every field the two states differ in."""
    listed = set(_DETAIL_FIELD.findall(str(doc.get("detail") or "")))
    if listed & set(model.DOCUMENTED_FIELDS):
        return tuple(name for name in model.DOCUMENTED_FIELDS if name in listed)
    return differing_fields(model, doc.get("expected"), doc.get("observed"))


def _failing(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return failing_step(doc)


def _silent_fields(model: Model, doc: Mapping[str, Any]) -> tuple[str, ...]:
    """Fields a failure is only about, in a way a target that ignores them explains: each came back
    without a value where one was expected, or an accepted body's only invalid values are theirs."""
    expected, observed = doc.get("expected"), doc.get("observed")
    differing = judged_fields(model, doc) if isinstance(expected, Mapping) and isinstance(observed, Mapping) else ()
    if differing:
        empty = all(expected.get(name) is not None and observed.get(name) is None for name in differing)  # type: ignore[union-attr]
        return tuple(differing) if empty else ()
    if doc.get("rule") != "bad_input.rejected" or not str(doc.get("situation", "")).startswith(("accepted", "Schema-violating")):
        return ()
    step = _failing(doc)
    body = _body(step) if step is not None else None
    if not isinstance(body, dict) or not _ok(step or {}):
        return ()
    method = str((step or {}).get("method", "")).upper()
    reasons = model.invalid_create_reasons(body) if method == "POST" else model.invalid_value_reasons(body)
    fields = {reason.split(":")[0].split(".")[0] for reason in reasons}
    return tuple(name for name in model.DOCUMENTED_FIELDS if name in fields) if reasons and fields <= set(
        model.DOCUMENTED_FIELDS) else ()


def clue(model: Model, doc: Mapping[str, Any]) -> Clue:
    """What a failure's story (`stories.document`, or just its rule and compared states) says of its cause."""
    steps = doc.get("steps") or []
    unsent = unsent_fields_changed(model, steps) if steps else ()
    if unsent:
        own = doc.get("rule") == UNSENT_RULE and str(doc.get("operation", "")).startswith("PATCH")
        touched = set(differing_fields(model, doc.get("expected"), doc.get("observed"))) | set(judged_fields(model, doc))
        if own or touched & set(unsent):
            return Clue(unsent=unsent)
    silent = _silent_fields(model, doc)
    if silent:
        return Clue(silent=silent)
    return Clue(text=text_change(model, doc))


def text_change(model: Model, doc: Mapping[str, Any]) -> str:
    """The one character-level transformation (`_TEXT_KINDS`) that every difference of the failure is,
    in textdiff's words without its counts and character names; "" when there is none."""
    expected, observed = doc.get("expected"), doc.get("observed")
    if not (isinstance(expected, Mapping) and isinstance(observed, Mapping)):
        return ""
    kinds = set()
    for name in judged_fields(model, doc):
        sent, got = expected.get(name), observed.get(name)
        named = textdiff.transformation(sent, got) if isinstance(sent, str) and isinstance(got, str) else None
        if named is None or not any(kind in named for kind in _TEXT_KINDS):
            return ""
        kinds.add(re.sub(r" \(.*\)$", "", re.sub(r"(?<= )\d+", "N", named)))  # counts go, "Latin-1" stays
    return kinds.pop() if len(kinds) == 1 else ""


def cause(rule: str, operation: str, tag: str, never_returned: Iterable[str], stored_text: Iterable[str] = ()) -> Cause:
    """The group of a failure of `rule` on `operation` with the clue `tag`, once the run knows which
    fields of the spec no room answer ever carried, and which text changes (`stored_text`: the tags)
    its plain round trips (`round_trip.exact_values` failures) showed: a text change seen by another
    rule only (a request form's, a list item's) is that rule's own failure."""
    if tag == "unsent" or tag.startswith("unsent:"):
        return Cause(UNSENT_RULE, UNSENT_OPERATION, UNSENT_FINDING, tuple(filter(None, tag.partition(":")[2].split(","))))
    if tag.startswith("silent:"):
        fields = tuple(tag.removeprefix("silent:").split(","))
        if fields and set(fields) <= set(never_returned):
            return Cause(NEVER_RETURNED_RULE, NEVER_RETURNED_OPERATION, never_returned_finding(fields), fields)
    if tag.startswith("text:") and (rule == TEXT_RULE or tag in set(stored_text)):
        return Cause(TEXT_RULE, TEXT_OPERATION, f"the target stores text changed: {tag.removeprefix('text:')}")
    return Cause(rule, operation)


def never_returned_finding(fields: Iterable[str]) -> str:
    names = ", ".join(f"`{name}`" for name in fields)
    return f"the target never returns {names} (a field of the spec; no room answer of the run carried it)"
