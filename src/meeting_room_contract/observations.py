"""What a run saw: checks per rule and operation, allowed behaviours observed, drift, failures."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from . import spec
from .judges import causes
from .model import for_spec
from .redaction import redact, scrub_document
from .report import counts_line, write_report


class Recorder:
    """What one run saw (a run's own: `Run.recorder`)."""

    def __init__(self, api_spec: "spec.Spec | None" = None) -> None:
        self.spec = api_spec
        self._lock = threading.Lock()
        self.current_test: str | None = None
        self.checks: dict[tuple[str, str], Counter] = defaultdict(Counter)
        self.behaviours: dict[str, Counter] = defaultdict(Counter)
        self.drift: dict[str, Counter] = defaultdict(Counter)
        # Checks that applied but could not be judged (e.g. nothing to compare with): by rule, then
        # "operation: reason". Never counted as run or passed; shown in the terminal and the summary.
        self.not_checked: dict[str, Counter] = defaultdict(Counter)
        self.failures: list[dict[str, Any]] = []
        self.failed_rules_by_test: dict[str, set[str]] = defaultdict(set)
        self.call_failures: list[dict[str, Any]] = []
        self.started = time.monotonic()  # reset when the session starts: call failures say when they happened
        # failures by (rule, operation, clue tag): folded into root-cause groups at the end (`fold_groups`)
        self.failure_groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.fields_returned: set[str] = set()  # documented fields some room answer of the run carried
        self._clues: dict[str, causes.Clue] = {}  # by story id
        self.failures_total = 0
        self.stories: dict[str, dict[str, Any]] = {}  # failure id -> story (group examples and reported failures)
        self.reported: list[dict[str, Any]] = []  # failed tests in the order they failed: the violations they showed

    def call_failed(self, test: str) -> list[str]:
        """A test's call (not a fixture) failed: remember the rules it found broken, in order."""
        with self._lock:
            # schemathesis runs one pytest item per test function and reports each operation as
            # `test[METHOD /path]`: its checks were recorded under the function's own node id
            rules = sorted(self.failed_rules_by_test.get(test, ()) or self.failed_rules_by_test.get(test.split("[")[0], ()))
            self.call_failures.append({"test": test, "rules": rules, "at": round(time.monotonic() - self.started, 2)})
            return rules

    def failed_in(self, test: str | None) -> bool:
        """Whether a check failed in `test` so far."""
        with self._lock:
            return bool(test) and bool(self.failed_rules_by_test.get(test))  # type: ignore[arg-type]

    def checked(self, rule: str, operation: str, passed: bool, violation: Any = None) -> None:
        with self._lock:
            counter = self.checks[(rule, operation)]
            counter["run"] += 1
            counter["passed" if passed else "failed"] += 1
            if not passed and self.current_test:
                self.failed_rules_by_test[self.current_test].add(rule)
            if not passed:
                self.failures_total += 1
                group = failure_group(rule, operation, self.current_test, violation, self._clue(rule, operation, violation))
                group["first_at"] = round(time.monotonic() - self.started, 3)
                if _add_to_group(self.failure_groups, group) and getattr(violation, "story", None):
                    self._keep_story(violation.story)
            if not passed and len(self.failures) < 200:
                entry = {"rule": rule, "operation": operation, "test": self.current_test,
                         "summary": getattr(violation, "summary", str(violation))[:500],
                         "reproduction": getattr(violation, "reproduction", None)}
                if entry not in self.failures:
                    self.failures.append(entry)

    def _clue(self, rule: str, operation: str, violation: Any) -> causes.Clue:
        """What the failure's evidence says of its root cause (`judges.causes`), once per story."""
        if self.spec is None:
            return causes.Clue()
        story = getattr(violation, "story", None)
        if story and story.get("id") in self._clues:
            return self._clues[story["id"]]
        failure = getattr(violation, "failure", None)
        doc = story or {"rule": rule, "operation": operation, "situation": getattr(failure, "situation", ""),
                        "detail": getattr(failure, "detail", ""),
                        "expected": getattr(failure, "expected", None), "observed": getattr(failure, "observed", None)}
        try:
            found = causes.clue(for_spec(self.spec), json.loads(json.dumps(doc, default=str)) if not story else doc)
        except Exception:  # pragma: no cover - a clue is a help for grouping, never a reason to fail a check
            found = causes.Clue()
        if story:
            self._clues[story["id"]] = found
        return found

    def cause_of(self, violation: Any) -> causes.Cause:
        """The root cause of a violation as far as this process knows it now (a field not returned so far may
        still be returned later: the run's end decides, `fold_groups`)."""
        failure = getattr(violation, "failure", None)
        rule, operation = getattr(violation, "rule", "?"), getattr(failure, "operation", "") or ""
        with self._lock:
            returned = set(self.fields_returned)
            stored_text = {key[2] for key in self.failure_groups if key[0] == causes.TEXT_RULE}
        return causes.cause(rule, operation, self._clue(rule, operation, violation).tag,
                            never_returned(self._documented(), returned), stored_text)

    def _documented(self) -> list[str]:
        return list(self.spec.room_fields()) if self.spec is not None else []

    def _keep_story(self, story: dict[str, Any]) -> None:
        if len(self.stories) < STORIES_KEPT:
            self.stories[story["id"]] = story

    def reported_failure(self, test: str, violations: list[Any]) -> None:
        """A test failed showing `violations` (its first is what the terminal shows first): its group
        shows that very example (the shrunk one, with its story), and groups are ordered by it."""
        with self._lock:
            keys = []
            for violation in violations:
                failure = getattr(violation, "failure", None)
                rule, operation = getattr(violation, "rule", "?"), getattr(failure, "operation", "") or ""
                tag = self._clue(rule, operation, violation).tag
                key = (rule, operation, tag) if (rule, operation, tag) in self.failure_groups else \
                    next((k for k in self.failure_groups if k[:2] == (rule, operation)), None) or \
                    next((k for k in self.failure_groups if k[0] == rule), (rule, operation, tag))
                keys.append(list(key))
                group = self.failure_groups.get(key)
                story = getattr(violation, "story", None)
                if group is not None and not group.get("shown_by_test"):
                    group["example"] = failure_group(rule, key[1], test, violation)["example"]
                    group["shown_by_test"] = test
                if story:
                    self.stories[story["id"]] = story
            first_story = getattr(violations[0], "story", None) if violations else None
            self.reported.append({"test": test, "groups": keys, "at": round(time.monotonic() - self.started, 3),
                                  "failure_id": first_story["id"] if first_story else None})

    def behaviour(self, name: str, value: str) -> None:
        with self._lock:
            self.behaviours[name][value] += 1

    def drift_seen(self, kind: str, detail: str) -> None:
        with self._lock:
            self.drift[kind][detail] += 1

    def unchecked(self, rule: str, operation: str, reason: str) -> None:
        """A check of `rule` applied here but could not be judged: visible, not counted as passed."""
        with self._lock:
            self.not_checked[rule][f"{operation}: {reason}"] += 1

    def observe_response(self, method: str, path: str, response: Any) -> None:
        """Record drift: statuses the spec does not document for the operation, undocumented fields."""
        if self.spec is None:
            return
        template = "/meeting_rooms/{meeting_room_sid}" if path.startswith("/meeting_rooms/") else path.split("?")[0]
        operation = self.spec.document["paths"].get(template, {}).get(method.lower())
        if operation is None:
            return
        if str(response.status_code) not in operation["responses"] and response.status_code != 429:
            self.drift_seen("undocumented status", f"{method.upper()} {template} -> {response.status_code}")
        if response.status_code == 200 and "meeting_room" in str(operation.get("operationId", "")).lower() + template:
            try:
                data = response.json()
            except ValueError:
                return
            rooms = data.get("items", []) if isinstance(data, dict) and "items" in data else [data]
            documented = set(self.spec.room_fields())
            for room in rooms:
                if isinstance(room, dict):
                    with self._lock:
                        self.fields_returned |= set(room) & documented
                    for key in set(room) - documented:
                        self.drift_seen("undocumented field", key)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "checks": [{"rule": rule, "operation": op, **dict(counter)} for (rule, op), counter in sorted(self.checks.items())],
                "behaviours": {name: dict(counter) for name, counter in sorted(self.behaviours.items())},
                "drift": {kind: dict(counter) for kind, counter in sorted(self.drift.items())},
                "not_checked": {rule: dict(counter) for rule, counter in sorted(self.not_checked.items())},
                "failures": list(self.failures),
                "call_failures": list(self.call_failures),
                "raw_failure_groups": [dict(group) for group in self.failure_groups.values()],
                "failure_groups": fold_groups([dict(group) for group in self.failure_groups.values()], self.reported,
                                              never_returned(self._documented(), self.fields_returned)),
                "fields_returned": sorted(self.fields_returned),
                "fields_documented": self._documented(),
                "failures_total": self.failures_total,
                "reported_failures": list(self.reported),
                "stories": dict(self.stories),
            }


# -- failures grouped by rule and situation ---------------------------------------------------------

_VOLATILE = [
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<sid>"),
    (re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""), "'…'"),
    (re.compile(r"(?<![\w.<])(?![1-5]\d\d\b)\d+(?:\.\d+)?"), "<n>"),  # 3-digit statuses stay
    (re.compile(r"\[[^\[\]]+\]"), "[…]"),  # non-empty lists and dicts, whatever their length
    (re.compile(r"\{[^{}]+\}"), "{…}"),
]


def situation(summary: str) -> str:
    """A violation summary with its volatile parts (sids, quoted values, numbers) normalised."""
    for pattern, replacement in _VOLATILE:
        summary = pattern.sub(replacement, summary)
    return summary[:300]


STORIES_KEPT = 300


def failure_group(rule: str, operation: str, test: str | None, violation: Any,
                  clue: causes.Clue | None = None) -> dict[str, Any]:
    """A one-failure group (rule and operation, and what its evidence says of its root cause: the clue's
    tag and fields), with its one situation beneath it."""
    summary = getattr(violation, "summary", str(violation))
    typed = getattr(violation, "failure", None)  # a judge's typed failure: grouped by its fields, not by its prose
    where = typed.situation if typed is not None and typed.situation else situation(summary)
    story = getattr(violation, "story", None)
    example = {"test": test, "summary": summary[:500], "reproduction": getattr(violation, "reproduction", None),
               "answer": getattr(violation, "answer", None), "text": str(violation)[:6000],
               "failure_id": story["id"] if story else None}
    clue = clue or causes.Clue()
    return {"rule": rule, "operation": operation, "tag": clue.tag, "fields": list(clue.unsent or clue.silent),
            "situation": where, "count": 1, "tests": [test] if test else [], "example": example,
            "situations": [{"situation": where, "count": 1, "tests": [test] if test else [], "example": example}]}


def _key(group: dict[str, Any]) -> tuple[str, str, str]:
    return (group["rule"], group["operation"], group.get("tag", ""))


def _add_to_group(groups: dict[Any, dict[str, Any]], new: dict[str, Any], key: Any = None) -> bool:
    """Merge group `new` into `groups` under `key` (default: its rule, operation and clue tag): counts
    add up, situations beneath; True when `new` made a new group (its example is the group's)."""
    key = _key(new) if key is None else key
    group = groups.get(key)
    situations = new.get("situations") or [{"situation": new.get("situation", ""), "count": new["count"],
                                            "tests": list(new["tests"]), "example": new.get("example", {})}]
    if group is None:
        groups[key] = {**new, "tests": list(new["tests"]), "fields": list(new.get("fields", [])),
                       "situations": [dict(s, tests=list(s["tests"])) for s in situations]}
        return True
    group["count"] += new["count"]
    group["tests"] += [test for test in new["tests"] if test not in group["tests"]]
    group["fields"] = group.get("fields", []) + [f for f in new.get("fields", []) if f not in group.get("fields", [])]
    if "first_at" in new:
        group["first_at"] = min(group.get("first_at", new["first_at"]), new["first_at"])
    if new.get("shown_by_test") and not group.get("shown_by_test"):
        group["example"], group["shown_by_test"] = new["example"], new["shown_by_test"]
    for incoming in situations:
        mine = next((s for s in group["situations"] if s["situation"] == incoming["situation"]), None)
        if mine is None:
            group["situations"].append(dict(incoming, tests=list(incoming["tests"])))
        else:
            mine["count"] += incoming["count"]
            mine["tests"] += [test for test in incoming["tests"] if test not in mine["tests"]]
    return False


def never_returned(documented: Any, fields_returned: Any) -> list[str]:
    """The spec's room fields that no room answer of the run carried (none known before one answer was seen)."""
    returned = set(fields_returned or ())
    return [name for name in documented or () if name not in returned] if returned else []


def _rank(reported: list[dict[str, Any]], arrival: list[str] | None = None) -> dict[tuple[str, ...], tuple[float, ...]]:
    """Where each raw group (rule, operation, tag) first shows in reading order: the failed tests in the
    order they were reported to the run (`arrival`: the controller's order under xdist, whose workers'
    clocks do not compare), each test's violations in its order."""
    position = {test: index for index, test in enumerate(arrival or [])}
    rank: dict[tuple[str, ...], tuple[float, ...]] = {}
    ordered = sorted(reported, key=lambda e: (position.get(e.get("test"), len(position)), e.get("at", 0)))
    for order, entry in enumerate(ordered):
        for index, key in enumerate(entry.get("groups", [])):
            key = tuple(key) if len(key) == 3 else (*key, "")
            rank.setdefault(key, (order, index))
    return rank


def fold_groups(raw: list[dict[str, Any]], reported: list[dict[str, Any]], not_returned: list[str],
                arrival: list[str] | None = None) -> list[dict[str, Any]]:
    """One group per root cause, in reading order: each raw group (a rule on an operation, with what its
    evidence said of its cause) joins the group of its cause (`causes.cause`): the rule that explains it,
    whatever test saw it. A failure that is not its cause's own is listed beneath as a situation named
    by the rule it was seen as; the group says the finding (one line) and the rules it was seen as."""
    rank = _rank(reported, arrival)
    far = (float("inf"), 0)

    def order(group: dict[str, Any]) -> tuple[Any, ...]:
        key = _key(group)
        loose = next((r for k, r in rank.items() if k[:2] == key[:2]), None)  # an old 2-key entry
        return (*(rank.get(key) or loose or far), group.get("first_at", 0.0))

    groups: dict[tuple[str, str], dict[str, Any]] = {}
    stored_text = {group.get("tag", "") for group in raw if group["rule"] == causes.TEXT_RULE}
    for group in sorted(raw, key=order):
        cause = causes.cause(group["rule"], group["operation"], group.get("tag", ""), not_returned, stored_text)
        seen_as = f"{group['rule']} on {group['operation'] or '(no operation)'}"
        own = (cause.rule, cause.operation) == (group["rule"], group["operation"])
        relabelled = dict(group, rule=cause.rule, operation=cause.operation, situations=[
            dict(s, situation=s["situation"] if own else f"seen as {seen_as}: {s['situation']}")
            for s in group.get("situations") or []])
        key = (cause.rule, cause.operation)
        made = _add_to_group(groups, relabelled, key)
        folded = groups[key]
        if made:
            folded["findings"], folded["seen_as"], folded["fields"] = [], {}, []
        folded["seen_as"][seen_as] = folded["seen_as"].get(seen_as, 0) + group["count"]
        if cause.finding and cause.finding.split(" (")[0] not in [f.split(" (")[0] for f in folded["findings"]]:
            folded["findings"].append(cause.finding)
        if cause.finding:
            folded["fields"] += [f for f in (cause.fields or group.get("fields", [])) if f not in folded["fields"]]
    result = []
    for folded in groups.values():
        folded.pop("tag", None)
        folded["finding"] = _finding(folded)
        folded["situation"] = folded["finding"] or folded["situation"]
        folded["situations"] = sorted(folded.get("situations", []), key=lambda s: -s["count"])
        result.append(folded)
    return result  # `groups` kept the reading order of the raw groups (sorted above)


def _finding(group: dict[str, Any]) -> str:
    """The group's cause in one line, when some of its failures were seen under another rule or found by
    a clue: what failed, the fields, and the rules the tests saw it as."""
    findings = group.get("findings") or []
    if not findings:
        return ""
    if findings[0].startswith(causes.UNSENT_FINDING):
        text = f"{causes.UNSENT_FINDING}: " + ", ".join(group.get("fields") or []) if group.get("fields") else findings[0]
    else:
        text = causes.never_returned_finding(group.get("fields") or []) if group.get("fields") else findings[0]
    seen: dict[str, int] = {}
    for name, count in (group.get("seen_as") or {}).items():
        seen[name.split(" on ")[0]] = seen.get(name.split(" on ")[0], 0) + count
    if len(seen) > 1 or (seen and next(iter(seen)) != group["rule"]):
        text += "; failed checks seen as " + ", ".join(f"{name} ×{count}" for name, count in seen.items())
    return text


def order_groups(groups: list[dict[str, Any]], reported: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raw groups in reading order (kept for callers of the old name): see `fold_groups`."""
    return fold_groups(groups, reported, [])


def merge(parts: list[dict[str, Any]], arrival: list[str] | None = None) -> dict[str, Any]:
    """Combine recorder dumps (one per xdist worker) into one; failures are grouped by root cause once
    every part is in (a field no worker saw returned is known only then). `arrival`: the failed tests in
    the order the run reported them (the controller's, under xdist)."""
    checks: dict[tuple[str, str], Counter] = defaultdict(Counter)
    behaviours: dict[str, Counter] = defaultdict(Counter)
    drift: dict[str, Counter] = defaultdict(Counter)
    not_checked: dict[str, Counter] = defaultdict(Counter)
    failures: list[dict[str, Any]] = []
    call_failures: list[dict[str, Any]] = []
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    reported: list[dict[str, Any]] = []
    stories: dict[str, dict[str, Any]] = {}
    returned: set[str] = set()
    documented: list[str] = []
    position = {test: index for index, test in enumerate(arrival or [])}
    raw = [{**group, "tag": group.get("tag", "")} for part in parts
           for group in part.get("raw_failure_groups", part.get("failure_groups", []))]
    for group in sorted(raw, key=lambda g: position.get(g.get("shown_by_test"), len(position))):
        _add_to_group(groups, group)  # a group's example: the one of the test pytest lists first
    for part in parts:
        call_failures.extend(part.get("call_failures", []))
        reported.extend(part.get("reported_failures", []))
        stories.update(part.get("stories", {}))
        returned |= set(part.get("fields_returned", []))
        documented = documented or list(part.get("fields_documented", []))
        for row in part.get("checks", []):
            checks[(row["rule"], row["operation"])].update({k: v for k, v in row.items() if k not in ("rule", "operation")})
        for name, values in part.get("behaviours", {}).items():
            behaviours[name].update(values)
        for kind, values in part.get("drift", {}).items():
            drift[kind].update(values)
        for rule, values in part.get("not_checked", {}).items():
            not_checked[rule].update(values)
        failures.extend(f for f in part.get("failures", []) if f not in failures)
    return {
        "checks": [{"rule": r, "operation": o, "run": c["run"], "passed": c["passed"], "failed": c["failed"]}
                   for (r, o), c in sorted(checks.items())],
        "behaviours": {name: dict(counter) for name, counter in sorted(behaviours.items())},
        "drift": {kind: dict(counter) for kind, counter in sorted(drift.items())},
        "not_checked": {rule: dict(counter) for rule, counter in sorted(not_checked.items())},
        "failures": failures,
        "call_failures": call_failures,
        "failure_groups": fold_groups(list(groups.values()), reported, never_returned(documented, returned), arrival),
        "reported_failures": sorted(reported, key=lambda e: (position.get(e.get("test"), len(position)), e.get("at", 0))),
        "fields_returned": sorted(returned),
        "stories": stories,
        "failures_total": sum(int(part.get("failures_total", len(part.get("failures", [])))) for part in parts),
        "requests_sent": sum(int(part.get("requests_sent", 0)) for part in parts),
    }


def write_summary(summary: dict[str, Any], directory: Path, header: dict[str, Any],
                  redactor: Any = None) -> tuple[dict[str, Any], Path]:
    """Write `contract-summary.json`, `contract-summary.md` and `contract-report.html` (secrets
    redacted first); returns the document and the HTML report's path."""
    directory.mkdir(parents=True, exist_ok=True)
    document = scrub_document({**header, **summary}, redactor)  # every string, at every depth, before anything is written
    stories = document.pop("stories", None) or {}
    document["failure_files"] = write_stories(stories, directory, redactor)
    json_path = directory / "contract-summary.json"
    json_path.write_text(redact(json.dumps(document, indent=2, ensure_ascii=False), redactor), encoding="utf-8")
    md_path = directory / "contract-summary.md"
    md_path.write_text(redact(_markdown(document), redactor), encoding="utf-8")
    return document, write_report(document, directory, redactor)  # contract-report.html, from the same document


FAILURES_DIR = "failures"


def write_stories(stories: dict[str, dict[str, Any]], directory: Path, redactor: Any = None) -> list[str]:
    """`failures/<id>.json` per failure story (what `python -m meeting_room_contract.replay` reads)."""
    if not stories:
        return []
    folder = directory / FAILURES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):  # a report directory holds one run's failures
        old.unlink()
    for failure_id, story in stories.items():
        story = scrub_document(story, redactor)
        (folder / f"{failure_id}.json").write_text(redact(json.dumps(story, indent=2, ensure_ascii=False), redactor),
                                                  encoding="utf-8")
    return sorted(stories)


def _markdown(doc: dict[str, Any]) -> str:
    lines = ["# Contract summary", "", f"Contract run against **{doc.get('target', '?')}**: exit {doc.get('exit_status', '?')} "
             f"({doc.get('status', doc.get('outcome', '?'))})", ""]
    for key in ("target", "spec", "started_at", "run_id", "profile", "workers", "exit_status", "status", "strict", "outcome",
                "duration_seconds", "requests_sent", "pins"):
        if key in doc:
            lines.append(f"- **{key}**: {doc[key]}")
    lines += ["", "## Checks by rule and operation", "", "| rule | operation | run | passed | failed |",
              "|---|---|---:|---:|---:|"]
    for row in doc["checks"]:
        lines.append(f"| {row['rule']} | {row['operation']} | {row['run']} | {row['passed']} | {row['failed']} |")
    if doc.get("rules_not_checked"):
        lines += ["", "## Rules NOT CHECKED in this run", ""]
        lines += [f"- **{rule}**: {why}" for rule, why in doc["rules_not_checked"].items()]
    if doc.get("incomplete"):
        lines += ["", "## Why this run is not complete", ""] + [f"- {line}" for line in doc["incomplete"]]
    if doc.get("not_checked"):
        lines += ["", "## Checks that applied but could not be judged (not counted above)", ""]
        for rule, values in doc["not_checked"].items():
            lines.append(f"- **{rule}**: " + ", ".join(f"{value} ×{count}" for value, count in values.items()))
    lines += ["", "## Allowed behaviours observed", ""]
    if not doc["behaviours"]:
        lines.append("(none observed)")
    for name, values in doc["behaviours"].items():
        lines.append(f"- **{name}**: " + ", ".join(f"{value} ×{count}" for value, count in values.items()))
    lines += ["", "## Drift (undocumented fields or status codes in live responses)", ""]
    if not any(doc["drift"].values()):
        lines.append("(none)")
    for kind, values in doc["drift"].items():
        lines.append(f"- **{kind}**: " + ", ".join(f"`{value}` ×{count}" for value, count in values.items()))
    lines += ["", "## Failures, grouped by rule and situation", ""] + _failure_lines(doc)
    return "\n".join(lines) + "\n"


MD_GROUPS_SHOWN = 50  # groups listed in the Markdown (all are in the JSON)
MD_TESTS_SHOWN = 3


def _failure_lines(doc: dict[str, Any]) -> list[str]:
    """Each group once: count, situation, tests, one example and its curl; caps said out loud."""
    groups = doc.get("failure_groups", [])
    others = [f"- `{f['test']}`" for f in doc.get("call_failures", []) if not f.get("rules")]
    if others:
        others = ["", "Tests that failed without a recorded contract violation (a fixture, the target unreachable, "
                  "or a bug of the suite; see report.html):", *others]
    if not groups:
        return ["(none)", *others]
    total = doc.get("failures_total", sum(g["count"] for g in groups))
    first = doc.get("first_failure")
    lines = [f"**First failure**: `{first['test']}`: {first['headline']}", ""] if first else []
    lines += [counts_line(doc) + ". One group per root cause (a failure is listed under the most basic rule that explains "
             "it, with the rule its test saw it as). Groups are in reading order: the first is the one the first failing test showed. "
             "A situation is where in the group it failed (a judge's situation, or the violation summary with sids, "
             "numbers, quoted values, lists and objects normalised); each group shows one example."]
    kept = len(doc.get("failures", []))
    if kept < total:
        lines.append(f"The JSON's `failures` list keeps the first {kept} of {total} failures individually; "
                     "`failure_groups` counts every one.")
    for index, group in enumerate(groups[:MD_GROUPS_SHOWN], start=1):
        example, tests = group["example"], group["tests"]
        shown = ", ".join(f"`{test}`" for test in tests[:MD_TESTS_SHOWN])
        more = f" and {len(tests) - MD_TESTS_SHOWN} more" if len(tests) > MD_TESTS_SHOWN else ""
        lines += ["", f"### {index}. {group['rule']} — {group['operation']} — {group['count']} failed check(s)", ""]
        if group.get("finding"):
            lines.append(f"- **root cause**: {group['finding']}")
        lines.append(f"- tests ({len(tests)}): {shown}{more}")
        for place in group.get("situations") or [{"situation": group.get("situation", ""), "count": group["count"]}]:
            lines.append(f"- situation ({place['count']} failed check(s)): {place['situation']}")
        lines.append(f"- example: {example['summary']}")
        if example.get("failure_id"):
            lines.append(f"- story: `failures/{example['failure_id']}.json` "
                         f"(replay: `python -m meeting_room_contract.replay REPORT_DIR --failure {example['failure_id']} ...`)")
        if example.get("reproduction"):
            lines += ["", "```sh", example["reproduction"], "```"]
    if len(groups) > MD_GROUPS_SHOWN:
        lines += ["", f"{len(groups) - MD_GROUPS_SHOWN} more group(s) not shown here: see `failure_groups` in "
                  "contract-summary.json or contract-report.html."]
    return lines + others
