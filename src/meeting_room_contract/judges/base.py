"""Typed failures and verdicts: what a judge returns (no I/O, no HTTP library, no run state)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from .. import rules, textdiff


class Answer(Protocol):
    """What a judge reads of an HTTP answer (a `requests.Response` fits; judges never send one)."""

    status_code: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any: ...


@dataclass(frozen=True)
class Failure:
    """One broken rule, with structured fields: reports group by (rule, operation, situation)."""

    rule: str
    operation: str
    situation: str
    detail: str
    expected: Any = None
    observed: Any = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The dedup key: one root cause is one (rule, operation, situation)."""
        return (self.rule, self.operation, self.situation)

    @property
    def summary(self) -> str:
        return f"{self.situation}: {self.detail}" if self.situation else self.detail


@dataclass
class Verdict:
    """What judging one exchange found: checks that ran (each able to fail), failures, behaviours seen."""

    checked: list[tuple[str, str, bool]] = field(default_factory=list)  # (rule, operation, passed)
    failures: list[Failure] = field(default_factory=list)
    observed: list[tuple[str, str, str]] = field(default_factory=list)  # (behaviour, alternative, operation)
    not_checked: list[tuple[str, str, str]] = field(default_factory=list)  # (rule, operation, reason)

    def add(self, rule_id: str, operation: str, failures: list[Failure] | None) -> list[Failure]:
        """Count a check of `rule_id` that ran (None: it did not apply, nothing is counted)."""
        rules.rule(rule_id)
        if failures is None:
            return []
        self.checked.append((rule_id, operation, not failures))
        self.failures.extend(failures)
        return failures

    def observe(self, behaviour: str, alternative: str, operation: str) -> None:
        rules.behaviour(behaviour)
        self.observed.append((behaviour, alternative, operation))

    @property
    def ok(self) -> bool:
        return not self.failures


MISSING = object()  # a key one side does not have


def compact(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def why_different(expected: Any, observed: Any) -> list[str]:
    """`    ≠ <explanation>` lines for the strings that differ in two values, nested ones included
    (`textdiff`: the transformation named, code points where they look alike)."""
    return [f"    ≠ {why}" for why in textdiff.explain_values(expected, observed)]


def field_diff(expected: Any, observed: Any, path: str = "") -> list[str]:
    """`- field: expected` / `+ field: observed` lines for the fields that differ (nested dicts by key),
    each pair followed by `    ≠ <explanation>` when strings in it differ (`why_different`)."""
    if isinstance(expected, Mapping) and isinstance(observed, Mapping) and (set(expected) & set(observed) or not path):
        lines: list[str] = []
        for key in [*expected, *(k for k in observed if k not in expected)]:
            if expected.get(key, MISSING) != observed.get(key, MISSING):
                lines += field_diff(expected.get(key, MISSING), observed.get(key, MISSING), f"{path}{key}.")
        return lines
    label = path.rstrip(".") or "(value)"
    return [f"  - {label}: {compact(expected)}", f"  + {label}: {compact(observed)}", *why_different(expected, observed)]


class ContractViolation(AssertionError):
    """A broken rule as a test failure: the typed `failure`, plus the request as curl and the answer."""

    def __init__(self, failure: Failure | str, summary: str | None = None, *, reproduction: str | None = None,
                 answer: str | None = None, expected: Any = None, observed: Any = None,
                 redact: Callable[[str], str] = lambda text: text, story: str | None = None):
        if isinstance(failure, str):  # ContractViolation(rule_id, summary, ...): a failure found outside a judge
            failure = Failure(failure, "", "", summary or "", expected, observed)
        registered = rules.rule(failure.rule)
        self.failure = failure
        self.rule, self.summary = failure.rule, failure.summary
        self.reproduction, self.answer = reproduction, answer
        self.story: dict[str, Any] | None = None  # the failure's story document (set by actions.violation)
        lines = [f"CONTRACT VIOLATION [{failure.rule}] ({registered.kind.value}): {failure.summary}",
                 f"Rule: {registered.summary}"]
        if reproduction:  # with a story, this request's room (and an embedded mock) is gone after the run
            lines += ["Request (as sent; the story below reproduces it on a room of its own):" if story
                      else "Request (reproduce with):", f"  {reproduction}"]
        if answer:
            lines.append(f"Answer: {answer}")
        expected, observed = failure.expected, failure.observed
        if isinstance(expected, Mapping) and isinstance(observed, Mapping) and not set(expected) & set(observed):
            lines += [f"Expected: {compact(expected)}", f"Observed: {compact(observed)}", *why_different(expected, observed)]
        elif expected is not None and observed is not None:
            lines += ["Expected vs observed (- expected, + observed; only what differs):", *field_diff(expected, observed)]
        elif expected is not None or observed is not None:
            lines.append(f"{'Expected' if observed is None else 'Observed'}: {compact(observed if expected is None else expected)}")
        if story:
            lines += story.splitlines()
        super().__init__(redact("\n".join(lines)))


def json_or_none(answer: Answer) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def media_type(answer: Answer) -> str:
    return answer.headers.get("Content-Type", "").split(";")[0].strip().lower()


JudgeFunction = Callable[..., "list[Failure] | None"]
JUDGES: dict[str, list[JudgeFunction]] = {}


def judge(rule_id: str) -> Callable[[JudgeFunction], JudgeFunction]:
    """Register a pure judge with the rule it checks (as schemathesis registers its checks)."""
    rules.rule(rule_id)

    def register(function: JudgeFunction) -> JudgeFunction:
        JUDGES.setdefault(rule_id, []).append(function)
        function.rule_id = rule_id  # type: ignore[attr-defined]
        return function

    return register
