"""Pytest hooks that put the contract first: failure output and pytest-html's page.

* A test that failed with `ContractViolation`s (also wrapped by hypothesis in an exception
  group) is reported with the violation text only: rule, summary, curl, answer, the fields
  that differ, then hypothesis's falsifying example and `@reproduce_failure` line. No test
  source, no fixture reprs. `--contract-traceback` brings pytest's traceback back.
* pytest-html's `report.html` gets the run facts, the rule counts and the failure groups in
  its summary, with a link to `contract-report.html`.
"""

from __future__ import annotations

import os
import re
import time
from html import escape
from pathlib import Path
from typing import Any, Callable

import pytest
from _pytest._code.code import ReprFileLocation, TerminalRepr

from .. import report as contract_report
from .. import rules
from ..judges import ContractViolation
from .exception_tree import chained, group_leaves
from .scope import is_contract_run
from .stash import ARRIVAL_KEY, HEADLINES_KEY, REPORT_DIR_KEY, REPORT_KEY, RUN_KEY, STARTED_KEY, run_of

_BLANK_ARGUMENT = re.compile(r"^\s+\w+=,$")  # hypothesis prints fixtures as `client=,`


def add_options(parser: pytest.Parser) -> None:
    """Called by `options.pytest_addoption` (options are registered in every pytest run; hooks only in contract runs)."""
    group = parser.getgroup("conference", "CarrierX Conference v2 contract target")
    group.addoption("--contract-traceback", action="store_true",
                    help="show pytest's usual traceback (test source, fixture values) for contract violations too")


class ViolationRepr(TerminalRepr):
    """A failure's text, printed as is; `reprcrash` gives the one-line reason pytest's summary shows."""

    def __init__(self, text: str, message: str, path: str, lineno: int):
        self.text = text
        self.reprcrash = ReprFileLocation(path, lineno, message)

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line, red=line.startswith("CONTRACT VIOLATION"), bold=line.startswith("CONTRACT VIOLATION"))


def violations(error: BaseException) -> list[ContractViolation] | None:
    """The violations an error consists of, or None if anything else is in it."""
    leaves = group_leaves(error)
    return leaves if all(isinstance(leaf, ContractViolation) for leaf in leaves) else None  # type: ignore[return-value]


_STEP = re.compile(r"^(?P<call>(?:\w+ = )?state\.\w+)\(input=StepInput\(")  # a schemathesis state-machine step
_TRANSITION = re.compile(r"Transition\(id='(?P<id>[^']*)'")


def hypothesis_notes(error: BaseException) -> list[str]:
    """hypothesis's notes on an error, without blank fixture arguments, the 'Explanation' of covered
    lines, and with each state-machine step on one line (its transition instead of object reprs)."""
    lines: list[str] = []
    explaining = stepping = False
    for line in "\n".join(map(str, getattr(error, "__notes__", []))).splitlines():
        explaining = line == "Explanation:" or (explaining and line.startswith(" "))
        stepping = stepping and line.startswith(" ")
        if stepping and (transition := _TRANSITION.search(line)):
            lines[-1] += f"  # {transition['id']}"
        if explaining or stepping or _BLANK_ARGUMENT.match(line):
            continue
        if step := _STEP.match(line):
            lines.append(f"{step['call']}(...)")
            stepping = True
        elif line == ")" and lines and lines[-1].endswith("("):
            lines[-1] += ")"  # `test(` + `)` once the fixtures are gone
        else:
            lines.append(line)
    return lines


def violation_text(error: BaseException) -> str:
    """The failure as the reader needs it: each violation, then what hypothesis says to reproduce it."""
    if isinstance(error, ContractViolation):
        return "\n".join([str(error), *hypothesis_notes(error)])
    parts = [str(error).splitlines()[0] if str(error) else type(error).__name__]  # e.g. "Hypothesis found 2 distinct failures."
    for index, inner in enumerate(error.exceptions, start=1):  # type: ignore[attr-defined]
        parts += ["", f"--- {index} of {len(error.exceptions)} ---", violation_text(inner)]  # type: ignore[attr-defined]
    return "\n".join(parts + hypothesis_notes(error))


def _flaky(error: BaseException) -> bool:
    try:
        from hypothesis.errors import Flaky
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, Flaky)


def _inner_violations(error: BaseException) -> list[ContractViolation]:
    """Every ContractViolation anywhere inside an error (group)."""
    is_violation: Callable[[BaseException], bool] = lambda node: isinstance(node, ContractViolation)
    return [node for node in chained(error, stop=is_violation, causes_first_only=True) if is_violation(node)]  # type: ignore[misc]


def flaky_text(error: BaseException) -> tuple[str, list[ContractViolation]]:
    """A hypothesis/schemathesis reproduction hiccup (Flaky: 'Failed to reproduce exception. Expected: ...')
    as its reason in one line, then the violations it carried (no traceback)."""
    reason = " ".join(str(error).split())[:300] or type(error).__name__
    found = _inner_violations(error)
    lines = [f"HYPOTHESIS COULD NOT REPRODUCE THE FAILURE ({type(error).__name__}): {reason}",
             "(the target answered differently when the example was sent again; --contract-traceback shows the traceback)"]
    for index, inner in enumerate(found, start=1):
        lines += ["", f"--- violation {index} of {len(found)} seen before ---", str(inner)]
    if not found:  # what failed first, when it was no violation (an error of the run, a refused setup, ...)
        errors = _inner_errors(error)
        for index, inner in enumerate(errors[:3], start=1):
            lines += ["", f"--- error {index} of {len(errors)} seen before ---", _one_line_error(inner)]
    return "\n".join(lines), found


def _inner_errors(error: BaseException) -> list[BaseException]:
    """The exceptions inside an error (group), causes and contexts included, that are not hypothesis's
    own reproduction errors: what the test raised before hypothesis failed to replay it."""
    from hypothesis.errors import HypothesisException

    return [node for node in chained(error) if not isinstance(node, (HypothesisException, BaseExceptionGroup))]


def _one_line_error(error: BaseException) -> str:
    """`Type: message (file:line)`, where the error was raised (the innermost frame of the suite, if any)."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ is not None else []
    ours = [frame for frame in frames if "meeting_room_contract" in frame.filename or "/contracts/" in frame.filename]
    where = (ours or frames)[-1] if (ours or frames) else None
    message = " ".join(str(error).split())[:300]
    place = f" ({'/'.join(Path(where.filename).parts[-2:])}:{where.lineno})" if where else ""
    return f"{type(error).__name__}: {message}{place}"


def short_message(found: list[ContractViolation], nodeid: str, width: int) -> str:
    """The short summary's reason, rule first, never cut inside a rule id: pytest trims what does
    not fit the terminal, so the message is made to fit (the rule alone, or nothing)."""
    first = found[0]
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    full = f"{first.rule}: {first.summary}{more}"
    available = width - len(f"FAILED {nodeid}") - len(" - ")
    if len(full) <= available:
        return full
    if len(first.rule) + 5 <= available:
        cut = full[: available - 3]
        return cut + "..." if len(cut) > len(first.rule) else first.rule
    return first.rule if len(first.rule) <= available else ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Replace the traceback of a contract failure with the violation (unless --contract-traceback).
    pytest is asked for its cheapest traceback of such a failure (the native one): the text it would
    build by default, source statements found by parsing each frame's file, is replaced anyway
    (~70 ms per failed test: three quarters of a run where every test fails)."""
    error = call.excinfo.value if call.excinfo is not None else None
    replaced = error is not None and not item.config.getoption("contract_traceback") and bool(
        violations(error) or _flaky(error))
    style = item.config.option.tbstyle
    if replaced:
        item.config.option.tbstyle = "native"
    try:
        report = yield
    finally:
        item.config.option.tbstyle = style
    if not (report.failed and call.excinfo is not None):
        return report
    if any(name == "contract_could_not_test" for name, _ in report.user_properties):
        return report  # "could not test: <reason>" (plugin/status.py), also inside hypothesis's replay group
    error = call.excinfo.value
    flaky = _flaky(error)
    found = _inner_violations(error) if flaky else violations(error)
    cause = None
    if found:
        recorder = run_of(item.config).recorder
        if report.when == "call":
            recorder.reported_failure(item.nodeid, found)
        cause = recorder.cause_of(found[0])
        # one line for the FIRST FAILURE line and JUnit's message (a plain attribute: it travels with xdist's report)
        report.contract_headline = headline_of(found[0], cause)
    if item.config.getoption("contract_traceback") or not (found or flaky):
        return report
    path, lineno, _ = item.location
    width = item.config.get_terminal_writer().fullwidth
    if flaky:
        text, _ = flaky_text(error)
        message = short_message(found, item.nodeid, width) if found else f"Flaky: {str(error).splitlines()[0][:200]}"
    else:
        text, message = violation_text(error), short_message(found, item.nodeid, width)
    if found and cause is not None and _reattributed(found[0], cause):
        lines = text.split("\n", 1)
        text = "\n".join([lines[0], f"ROOT CAUSE [{cause.rule}]: {cause.line} (reported under {cause.rule} with every "
                                     "test that saw it)", *lines[1:]])
    report.longrepr = ViolationRepr(text, message, path, (lineno or 0) + 1)
    return report


HEADLINE_CHARS = 150  # the one-line reason after the test id (FIRST FAILURE, JUnit's message)


def _reattributed(violation: ContractViolation, cause: Any) -> bool:
    return (cause.rule, cause.operation) != (violation.rule, violation.failure.operation) or bool(cause.finding)


def one_line(text: str, limit: int = HEADLINE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def headline_of(violation: ContractViolation, cause: Any) -> str:
    """`rule: what` in one line, the rule of the root cause first (never cut), what the test saw after it."""
    if _reattributed(violation, cause):
        what = cause.line if violation.rule == cause.rule else f"{cause.line} (seen as {violation.rule})"
        return f"{cause.rule}: {one_line(what, HEADLINE_CHARS - len(cause.rule))}"
    return f"{violation.rule}: {one_line(violation.summary, HEADLINE_CHARS - len(violation.rule))}"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Failures name the report directory their stories are written to; the first one is said at once."""

    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.report_dir = config.stash.get(REPORT_DIR_KEY, None) or "reports"
    if not hasattr(config, "workerinput") and is_contract_run(config):
        config.pluginmanager.register(FirstFailureLine(config), "contract-first-failure-line")


class FirstFailureLine:
    """The run's first failure, one line as soon as it is reported (pytest shows failures only at the end
    of the run, minutes later against a remote target), so a failing gate says what is wrong early."""

    def __init__(self, config: pytest.Config):
        self.config, self.said = config, False

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.failed:
            return
        arrival = self.config.stash.setdefault(ARRIVAL_KEY, [])
        if report.nodeid not in arrival:  # the order pytest lists the failures in, also under xdist
            arrival.append(report.nodeid)
            self.config.stash.setdefault(HEADLINES_KEY, {})[report.nodeid] = headline(report)
        if self.said:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        self.said = True
        started = self.config.stash.get(STARTED_KEY, None)
        after = f" after {time.monotonic() - started:.0f} s" if started is not None else ""
        if reporter._tw.width_of_current_line:  # under xdist the progress line is not ended for us (R9-5)
            reporter.write("\n")
        reporter.write_line(first_failure_line(f"FIRST FAILURE{after}: {report.nodeid}: ", headline(report),
                                               " (all failures at the end)"), red=True, bold=True)


FIRST_FAILURE_CHARS = 200


def first_failure_line(prefix: str, reason: str, suffix: str, limit: int = FIRST_FAILURE_CHARS) -> str:
    """The FIRST FAILURE line within `limit` characters where it can be: the reason is cut after its rule
    id (`rule: ...`), never inside it; a test id too long for that leaves the line longer."""
    room = limit - len(prefix) - len(suffix)
    rule = reason.split(": ", 1)[0]
    if len(reason) > room:
        reason = one_line(reason, max(room, len(rule) + 3))
    return prefix + reason + suffix


def headline(report: pytest.TestReport) -> str:
    """The line that says what a failed report is about: `rule: what` (the root cause's rule) for a
    violation, a "could not test" line, else the first `E` line of a traceback, else its last line;
    one line of at most HEADLINE_CHARS."""
    found = getattr(report, "contract_headline", None)
    if found:
        return str(found)
    line = _first_line(report)
    violation = re.match(r"^CONTRACT VIOLATION \[([\w.]+)\] \([DA]\): ", line)
    return one_line(f"{violation[1]}: {line[violation.end():]}" if violation else line)


def _first_line(report: pytest.TestReport) -> str:
    lines = [line.strip() for line in str(report.longrepr or "").splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("CONTRACT VIOLATION", "could not test")):
            return line
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return errors[0] if errors else (lines[-1] if lines else report.outcome)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test's story starts with its own requests."""

    run = item.config.stash.get(RUN_KEY, None)
    if run is not None:
        run.target.registry.stories.begin(item.nodeid)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> Any:
    """Point to the page; a red run ends with its tally per rule and operation, in reading order,
    and how to replay the first failure (after pytest's short summary: the last lines)."""

    result = yield
    written = config.stash.get(REPORT_KEY, None)
    if written is None:
        return result
    doc, page = written
    for line in terminal_tally(doc, str(page)):
        terminalreporter.line(line, red=line.startswith(("CONTRACT", "  ", "first failure:")) and bool(doc.get("failure_groups")),
                              bold=line.startswith("contract report"))
    return result


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def terminal_tally(doc: dict[str, Any], page: str) -> list[str]:
    """The lines that end the terminal output: the page, then (red run) one line per rule and operation."""
    from ..report import counts_line

    groups = doc.get("failure_groups", [])
    lines = [f"contract report: {_shown(page)}"]
    if not groups:
        return lines
    lines += [f"CONTRACT FAILURES, in reading order ({counts_line(doc)}):"]
    for index, group in enumerate(groups, start=1):
        tests = len(group.get("tests", []))
        lines.append(f"  {index}. {group['rule']} on {group['operation'] or '(no operation)'}: {tests} test(s), "
                     f"{group['count']} failed check(s), {len(group.get('situations') or [1])} situation(s)")
        if group.get("finding"):
            lines.append(f"     root cause: {group['finding']}")
    first_failure = doc.get("first_failure")
    if first_failure:
        lines.append(f"first failure: {first_failure['test']}: {first_failure['headline']}")
    first = groups[0].get("example", {})
    if first.get("failure_id"):
        import json

        from .. import stories

        directory = os.path.dirname(_shown(page)) or "."
        story_path = os.path.join(os.path.dirname(page), "failures", f"{first['failure_id']}.json")
        lines.append(f"first failure's story: {directory}/failures/{first['failure_id']}.json; replay it (exit 1: reproduced):")
        try:
            story = json.loads(open(story_path, encoding="utf-8").read())
        except (OSError, ValueError):
            story = None
        if story is not None:
            mock = stories.mock_command(story.get("target", {}))
            if mock:
                lines.append(f"  {mock} &   # stop it with: kill %1")
            lines.append(f"  {stories.replay_command(story, directory)}")
    return lines


def pytest_html_report_title(report: Any) -> None:
    report.title = "Contract run — CarrierX Conference v2 meeting rooms"


def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session) -> None:
    """The contract at the top of report.html: run facts, rule counts, failure groups, the link."""
    written = session.config.stash.get(REPORT_KEY, None)
    if written is None:
        return
    doc, report_path = written
    html_path = Path(session.config.option.htmlpath).resolve()
    link = os.path.relpath(Path(report_path).resolve(), html_path.parent)
    rows = doc.get("checks", [])
    failed_rules = {row["rule"] for row in rows if row.get("failed")}
    checked_rules = {row["rule"] for row in rows if row.get("run")}
    facts = (f"target {contract_report.public_target(doc)}, hypothesis profile {doc.get('profile')}, run id {doc.get('run_id')}, "
             f"{doc.get('requests_sent', '?')} requests")
    items = "".join(f"<li><b>{escape(g['rule'])}</b> ×{g['count']} on <code>{escape(g['operation'])}</code>: "
                    f"{escape(g.get('finding') or g['situation'])}</li>" for g in doc.get("failure_groups", [])[:10])
    prefix.append(f'<p><b>Contract report: <a href="{escape(link)}">{escape(link)}</a></b> '
                  "(rule × operation matrix, behaviours, drift, every failure with its curl)</p>"
                  f"<p>{escape(facts)}.<br>Rules: {len(checked_rules - failed_rules)} passed, {len(failed_rules)} failed, "
                  f"{len(set(rules.RULES) - checked_rules)} not checked; "
                  f"{doc.get('failures_total', 0)} failed check(s) in {len(doc.get('failure_groups', []))} group(s).</p>"
                  + (f"<ul>{items}</ul>" if items else ""))
