"""Where hypothesis has no public setting: no literals mined from our source, bounded gate shrinking.

Each reaches into a private name of hypothesis (pinned in pyproject.toml). `assert_hooks_present`
fails loudly when an upgrade moves one (tests/test_hypothesis_limits.py), instead of the
suite silently losing the behaviour.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis.internal.conjecture import engine, providers

GATE_SHRINK_SECONDS = 4  # the run's first failure
GATE_LATER_SHRINK_SECONDS = 1  # once the gate is red: later failures are reported nearly as found
PRIVATE_HOOKS = {"providers._get_local_constants": (providers, "_get_local_constants"),
                 "engine.MAX_SHRINKING_SECONDS": (engine, "MAX_SHRINKING_SECONDS"),
                 "engine.report": (engine, "report")}


def assert_hooks_present() -> None:
    missing = [name for name, (module, attribute) in PRIVATE_HOOKS.items() if not hasattr(module, attribute)]
    if missing:
        raise RuntimeError(f"hypothesis moved {missing}: update plugin/hypothesis_limits.py for this version")


def no_local_constants() -> None:
    """Generated data never contains string (or number) constants mined from the project's source.

    Hypothesis (since 6.131) draws the literals of every "local" module now and then; 6.170 has
    no setting for it, so the engine's collector returns an empty pool for all profiles.
    """
    assert_hooks_present()
    empty = providers.Constants()
    providers._get_local_constants = lambda: empty


def current_profile() -> str:
    return settings._current_profile  # no public accessor in 6.170


def bound_gate_shrinking() -> None:
    """Bounded shrinking in the gate profile: a failing gate says what is wrong within a minute.

    4 s for the run's first failure and 1 s for each later one (the failure is still reported,
    with the example found so far and its `@reproduce_failure` blob). Nightly and dev shrink fully.
    """
    assert_hooks_present()
    if current_profile() == "gate":
        engine.MAX_SHRINKING_SECONDS = GATE_SHRINK_SECONDS
        if not getattr(engine.report, "gate_aware", False):
            engine.report = _gate_shrink_report(engine.report)


def shorten_later_gate_shrinking() -> None:
    if current_profile() == "gate":
        engine.MAX_SHRINKING_SECONDS = min(engine.MAX_SHRINKING_SECONDS, GATE_LATER_SHRINK_SECONDS)


def _gate_shrink_report(report: Any) -> Any:
    """Hypothesis's "spent more than five minutes ... PLEASE REPORT THIS" warning, said as it is in the gate."""

    def gate_report(value: Any) -> None:
        if isinstance(value, str) and "spent more than five minutes working to shrink" in value:
            value = (f"Shrinking stopped after {engine.MAX_SHRINKING_SECONDS} s (gate profile): the example shown is the "
                     f"smallest found so far; `--hypothesis-profile nightly` shrinks it fully.")
        report(value)

    gate_report.gate_aware = True  # type: ignore[attr-defined]
    return gate_report


no_local_constants()
