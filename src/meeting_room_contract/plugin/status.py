"""Exit statuses a pipeline can act on, "could not test", strict mode, and what was not checked.

| status | meaning |
|---|---|
| 0 | every rule was checked and held (strict), or no violation (`--no-contract-strict`) |
| 1 | contract violations (or a test failed for another reason) |
| 2 | interrupted (Ctrl-C, SIGTERM) |
| 4 | usage error: bad options, the target is not explicit, the preflight failed |
| 6 | the target could not be tested: no judgeable answer (persistent 429, timeouts, connection lost), the run deadline |
| 7 | strict mode: no violation, but the run is incomplete (skipped tests, rules not checked, rooms left behind) |

A violation wins over "could not test", which wins over "incomplete". 3 (internal error) and 5 (no
tests collected) are pytest's own. Each reason is one line at the end of the run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from .. import rules
from ..client import ListingContradiction
from ..transport import TargetUnavailable
from ..judges import ContractViolation
from .exception_tree import chained, group_leaves
from .stash import run_of

EXIT_OK, EXIT_VIOLATIONS, EXIT_INTERRUPTED, EXIT_USAGE = 0, 1, 2, 4
EXIT_COULD_NOT_TEST, EXIT_INCOMPLETE = 6, 7
MEANING = {0: "passed: every rule checked and held", 1: "contract violations", 2: "interrupted", 3: "internal error",
           4: "usage error", 5: "no tests collected", EXIT_COULD_NOT_TEST: "could not test the target",
           EXIT_INCOMPLETE: "incomplete (strict): not every rule was checked"}
COULD_NOT_TEST = "contract_could_not_test"  # a report's user property: the reason, one line
RUN_STOPPED = "contract_run_stopped"  # a report's user property: the run cannot test the target any more
CUT_SHORT = "cut short by the interrupt (not judged)"
SECOND_ACCOUNT_RULES = ("isolation.accounts", "uniqueness.account_scope")


@dataclass
class RunStatus:
    """What the run's test reports said, beyond passed and failed (kept by the controller under xdist)."""

    could_not_test: dict[str, str] = field(default_factory=dict)  # test -> reason
    stopped: str | None = None  # why the run stopped testing the target (the deadline, a 429 wall, no answers)
    failed: set[str] = field(default_factory=set)
    skipped: Counter = field(default_factory=Counter)  # reason -> tests
    deselected: int = 0
    session: Any = None
    final: int | None = None
    incomplete: list[str] = field(default_factory=list)
    rules_not_checked: dict[str, str] = field(default_factory=dict)
    not_applicable: dict[str, str] = field(default_factory=dict)  # rule -> why no answer of this target could apply it
    notes: list[str] = field(default_factory=list)  # lines shown with the status that do not make a run incomplete
    violations: int | None = None  # contract violations the run recorded (None: not known yet)
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped the run (its status may still be a violation's)


STATUS_KEY = pytest.StashKey[RunStatus]()


def status_of(config: pytest.Config) -> RunStatus:
    found = config.stash.get(STATUS_KEY, None)
    if found is None:
        found = config.stash[STATUS_KEY] = RunStatus()
    return found


def strict(config: pytest.Config, profile: str) -> bool:
    """--contract-strict / --no-contract-strict (pytest owns --strict); by default strict in the gate profile."""
    chosen = config.getoption("contract_strict", None)
    return profile == "gate" if chosen is None else bool(chosen)


def add_options(parser: pytest.Parser) -> None:
    """Called by `options.pytest_addoption` (options are registered in every pytest run; hooks only in contract runs)."""
    group = parser.getgroup("conference", "CarrierX Conference v2 contract target")
    group.addoption("--contract-strict", dest="contract_strict", action="store_true", default=None,
                    help="a run is green only if every rule was checked, no test was skipped and no room is left "
                         f"(else exit {EXIT_INCOMPLETE}); the default in the gate profile")
    group.addoption("--no-contract-strict", dest="contract_strict", action="store_false",
                    help="skipped tests, rules not checked and rooms left behind are listed, but do not fail the run")
    group.addoption("--max-duration", type=float, default=None, metavar="SECONDS",
                    help=f"bound the run: requests stop after SECONDS; what is left is not checked (exit {EXIT_COULD_NOT_TEST})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """TargetUnavailable: one line "could not test: ..."; the run stops when the target cannot be tested
    any more (`run_wide`), else only this test could not be tested and the run goes on.
    ListingContradiction: a counted violation of shape.response_conformance, shown without a traceback."""
    report = yield
    if not (report.failed and call.excinfo is not None):
        return report
    if call.excinfo.errisinstance(KeyboardInterrupt) and not any(
            isinstance(error, ContractViolation) for error in chained(call.excinfo.value)):
        # Only a subtest gets here (pytest reports a KeyboardInterrupt in a subtest, such as a schemathesis
        # case, as a failed subtest before it re-raises it): nothing failed, the run was interrupted there.
        # (A violation the interrupt came after, e.g. while the case's room was deleted, stays a failure.)
        report.outcome = "skipped"
        report.longrepr = (item.location[0], (item.location[1] or 0) + 1, f"Skipped: {CUT_SHORT}")
        return report
    leaves = group_leaves(call.excinfo.value)
    unavailable = [leaf for leaf in leaves if isinstance(leaf, TargetUnavailable)]
    contradictions = [leaf for leaf in leaves if isinstance(leaf, ListingContradiction)]

    run = run_of(item.config)
    for error in contradictions:
        request = error.response.request
        path = (request.path_url if request is not None else "/meeting_rooms").split("?")[0]
        run.recorder.checked(error.rule_id, f"GET {path}", False, error)
    if unavailable and len(unavailable) == len(leaves):
        reason = run.target.redactor.scrub(unavailable[0].reason.splitlines()[0])
        report.longrepr = f"could not test: {reason}"
        report.user_properties.append((COULD_NOT_TEST, reason))
        if any(leaf.run_wide for leaf in unavailable) or run.target.deadline.gave_up is not None:
            report.user_properties.append((RUN_STOPPED, reason))
            item.session.shouldstop = f"could not test: {reason}"
    elif contradictions and len(contradictions) == len(leaves) and not item.config.getoption("contract_traceback"):
        report.longrepr = str(contradictions[0])
    return report


def pytest_sessionstart(session: pytest.Session) -> None:
    status_of(session.config).session = session


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        status_of(items[0].config).deselected += len(items)


class _ReportWatcher:
    """Reads every test report where the reports arrive (the controller under xdist), for this config."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        status = status_of(self.config)
        properties = dict(report.user_properties)
        reason = properties.get(COULD_NOT_TEST)
        if reason is not None:
            status.could_not_test.setdefault(report.nodeid, reason)
            if RUN_STOPPED in properties:
                status.stopped = status.stopped or reason
                if status.session is not None and not status.session.shouldstop:
                    status.session.shouldstop = f"could not test: {reason}"
        elif report.failed:
            status.failed.add(report.nodeid)
        elif report.skipped and isinstance(report.longrepr, tuple):
            status.skipped[str(report.longrepr[2]).removeprefix("Skipped: ")] += 1


def pytest_configure(config: pytest.Config) -> None:
    status_of(config)
    config.pluginmanager.register(_ReportWatcher(config), "contract-status-report-watcher")


def decide(config: pytest.Config, exitstatus: int, summary: dict[str, Any], remaining: list[str], *,
           second_account: bool, profile: str) -> RunStatus:
    """The run's exit status and, one line each, why it is not green."""
    status = status_of(config)
    status.violations = int(summary.get("failures_total") or 0)
    stopped = status.stopped
    # pytest says "interrupted" also for a run stopped as could-not-test (shouldstop): that is no Ctrl-C
    status.interrupted = exitstatus == EXIT_INTERRUPTED and stopped is None
    checked = {row["rule"] for row in summary.get("checks", []) if row.get("run")}
    for rule_id in rules.RULES:
        if rule_id in checked:
            continue
        if rule_id in SECOND_ACCOUNT_RULES and not second_account:
            why = "no second account (--second-username/--second-password)"
        elif stopped is not None:
            why = "the run stopped before a test checked it: could not test (reason above)"
        elif exitstatus == EXIT_INTERRUPTED:
            why = "the run was interrupted before a test checked it"
        elif status.deselected or not _whole_suite(config) or config.option.keyword or config.option.markexpr:
            why = "its tests were not selected (a subset of contracts/, -k or -m)"
        elif status.skipped:
            why = "its tests were skipped (see the skip reasons)"
        elif (allowed := _not_applicable(rule_id, summary)) is not None:
            status.not_applicable[rule_id] = allowed  # listed, never counted as checked, and not a gap in the run
            continue
        else:
            why = "no check of it applied to this target's answers"
        status.rules_not_checked[rule_id] = why
    incomplete = [f"SKIPPED ×{count}: {reason}" for reason, count in status.skipped.items()]
    if status.could_not_test and stopped is None:  # single requests without an answer: those tests were not judged
        incomplete.append(f"NOT JUDGED ×{len(status.could_not_test)}: a request of the test got no answer that can be "
                          "judged (infrastructure, not the API; the run went on)")
    by_reason: dict[str, list[str]] = {}
    for rule_id, why in status.rules_not_checked.items():
        by_reason.setdefault(why, []).append(rule_id)
    incomplete += [f"NOT CHECKED ({why}): {', '.join(rule_ids)}" for why, rule_ids in by_reason.items()]
    status.notes = [f"NOT APPLICABLE ({why}): {rule_id}" for rule_id, why in status.not_applicable.items()]
    if remaining:
        incomplete.append(f"ROOMS LEFT BEHIND on the target: {', '.join(remaining)}")
    status.incomplete = incomplete
    failures = bool(status.failed) or int(summary.get("failures_total", 0) or 0) > 0
    if exitstatus in (3, EXIT_USAGE, 5) or config.option.collectonly:  # --collect-only checks nothing: pytest's status
        final = exitstatus
    elif failures:
        final = EXIT_VIOLATIONS
    elif stopped is not None:
        final = EXIT_COULD_NOT_TEST
    elif exitstatus not in (EXIT_OK, EXIT_VIOLATIONS):
        final = exitstatus
    elif incomplete and strict(config, profile):
        final = EXIT_INCOMPLETE
    else:
        final = EXIT_OK
    status.final = final
    return status


# Rules whose check applies only to an answer that an allowed behaviour may never give: when the run
# observed the target choosing the alternatives that never give it, the rule could not apply (the
# target is not the less tested for it). A 409 claims a conflict, and only a 409 is checked for an
# explaining room; a target that answers every refusal of a code with 400/422 gives no 409.
CONDITIONAL_RULES = {
    "uniqueness.conflict_explained": (("status_code_in_use", "status_duplicate_code"), "409",
                                      "the target refuses conflicting codes with 400/422, never 409 (observed), and only a "
                                      "409 claims a conflict"),
}


def _not_applicable(rule_id: str, summary: dict[str, Any]) -> str | None:
    condition = CONDITIONAL_RULES.get(rule_id)
    if condition is None:
        return None
    behaviours, giving, why = condition
    seen = summary.get("behaviours", {})
    observed = [seen.get(name) or {} for name in behaviours]
    if all(observed) and not any(giving in counts for counts in observed):
        return why
    return None


def _whole_suite(config: pytest.Config) -> bool:
    from pathlib import Path

    for arg in config.args or []:
        path = Path(str(arg).split("::")[0])
        if "::" in str(arg) or path.name != "contracts":
            return False
    return True


def meaning(status: RunStatus) -> str:
    """The final status in words (a green run that was not strict says what it did not check)."""
    if status.final == EXIT_OK and status.incomplete:
        return "passed without strict mode: no violation, but not everything was checked"
    if status.final == EXIT_VIOLATIONS and status.violations == 0:
        words = "tests failed without a contract violation (each failed test says its error)"
    else:
        words = MEANING.get(status.final, f"exit {status.final}")
    if status.interrupted and status.final != EXIT_INTERRUPTED:
        words += " (the run was interrupted: not every test ran)"
    return words


def not_green_lines(status: RunStatus) -> list[str]:
    """The end-of-run lines: could not test, then what keeps a run from being green."""
    lines = [f"COULD NOT TEST: {reason} ({test})" for test, reason in list(status.could_not_test.items())[:5]]
    return lines + status.incomplete + status.notes
