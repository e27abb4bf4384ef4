"""The run's lifecycle: the Run made at configure time, the preflight and leftovers before the first
test, signals, stop-on-rule, and at the end the cleanup of every room and the summary."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from hypothesis import settings

from .. import preflight
from ..transport import Deadline, Politeness
from ..journal import DEFAULT_STATE_DIR, STATE_DIR_ENV, CleanupJournal, cleanup_journalled, signals_held
from ..observations import merge, write_summary
from ..report import contract_doc_link, mark_stale
from ..rooms import delete_leftover_rooms, preflight_name, sweep_run_rooms
from ..run import Run
from ..target import Target, TargetSettings
from . import hypothesis_limits, status as run_status, stopping
from .options import check_options, chosen_pins, chosen_spec, list_readbacks_per_test, option
from .scope import is_contract_run
from .stash import (ARRIVAL_KEY, HEADLINES_KEY, OBSERVATIONS, REPORT_DIR_KEY, REPORT_KEY, RUN_KEY, STARTED_KEY,
                    SUMMARY_KEY, WORKER_PARTS_KEY, run_of)

def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    session = config.pluginmanager.get_plugin("session")
    if session is not None:  # first (none for `pytest --help`): from here on an interrupt ends the run with its summary
        _stop_on_signals(session)
    if not is_worker(config):  # the previous run's report never passes for this run's (replaced at the end)
        stale_dir = config.getoption("report_dir") or "reports"
        why = ("a contract run started here and has not finished (stopped by a usage error, a crash or a kill?)"
               if is_contract_run(config) else "the last run here was not a contract run (`pytest contracts`)")
        mark_stale(Path(stale_dir), why)
    api_spec = chosen_spec(config)  # first: everything after this reads the chosen spec
    check_options(config, api_spec)
    pins = chosen_pins(config)
    target_settings = TargetSettings(
        base_url=option(config, "base_url"), username=option(config, "username"), password=option(config, "password"),
        second_username=option(config, "second_username"), second_password=option(config, "second_password"),
        mock_faults=tuple(config.getoption("mock_fault")), mock_variants=tuple(config.getoption("mock_variant")),
        politeness=Politeness(timeout=config.getoption("request_timeout"), rate_limit=config.getoption("rate_limit"),
                              max_retry_wait=config.getoption("max_retry_wait")),
        name_prefix=config.getoption("room_prefix"), cross_login_probes=config.getoption("cross_login_probes"),
        wrong_password_window_s=60.0 * config.getoption("wrong_password_window"), mock_in_process=False)
    run_id = getattr(config, "workerinput", {}).get("conference_run_id") or os.environ.get("CONFERENCE_RUN_ID")
    try:
        target = Target(target_settings, run_id=run_id, spec_path=str(api_spec.path))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    run = Run(target, api_spec, pins)
    config.pluginmanager.register(_InterruptTraceback(last_frame_only=is_worker(config)), "contract-interrupt-traceback")
    if not target.settings.uses_mock:  # every room created on a real target is journalled on disk at once
        state_dir = config.getoption("state_dir") or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
        try:
            target.registry.attach_journal(CleanupJournal(state_dir, target.registry.run_id, keep=is_worker(config)))
        except OSError as error:
            raise pytest.UsageError(_not_a_directory("--state-dir", state_dir, error)) from None
    target.on_response = run.recorder.observe_response
    config.stash[RUN_KEY] = run
    report_dir = config.getoption("report_dir") or ("reports" if is_contract_run(config) else None)
    config.stash[REPORT_DIR_KEY] = report_dir
    if report_dir:
        try:
            Path(report_dir).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise pytest.UsageError(_not_a_directory("--report-dir", report_dir, error)) from None
        if not config.option.xmlpath:
            config.option.xmlpath = str(Path(report_dir) / "junit.xml")
        if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
            config.option.htmlpath = str(Path(report_dir) / "report.html")
            config.option.self_contained_html = True
    _name_the_spec_in_the_html_report(config, api_spec.description)


def _not_a_directory(option_name: str, path: str | os.PathLike[str], error: OSError) -> str:
    return (f"{option_name} {path}: {error.strerror or error} ({type(error).__name__}): give a directory this user "
            "can create and write")


def _name_the_spec_in_the_html_report(config: pytest.Config, description: str) -> None:
    """pytest-html shows pytest-metadata's table: the spec (path and short hash) goes there too."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = config.stash.get(metadata_key, None)
    if metadata is not None:
        metadata["Contract spec"] = description


class _InterruptTraceback:
    """pytest formats the traceback of an interrupt (to show where the run was) before the session ends.

    - CPython 3.11 can leave a frame of it without a line number (`tb_lineno` None), on which pytest's
      formatting crashes (TypeError): the run ended as an internal error, exit 1, its summary "incomplete"
      instead of "interrupted". Such frames are dropped.
    - An xdist worker's traceback is shown to nobody, but pytest formats every frame, with its arguments
      and source: seconds of CPU in hypothesis's and schemathesis's deep stacks, times 12 workers on 2
      cores, before the worker deletes its rooms (R9-2). A worker keeps one frame, the last that is not
      hidden (pytest needs one to name where the interrupt came)."""

    def __init__(self, *, last_frame_only: bool):
        self.last_frame_only = last_frame_only

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        with_lines = excinfo.traceback.filter(_has_a_line_number)
        if with_lines and len(with_lines) < len(excinfo.traceback):
            excinfo.traceback = with_lines
        if self.last_frame_only:
            shown = excinfo.traceback.filter(excinfo)
            if len(shown) > 1:
                excinfo.traceback = shown[-1:]


def _has_a_line_number(entry: Any) -> bool:
    try:
        entry.lineno  # noqa: B018 - pytest computes `tb_lineno - 1`
    except TypeError:
        return False
    return True


def _stop_on_signals(session: pytest.Session) -> None:
    """Ctrl-C or SIGTERM stop the run (the rooms are still deleted at the end of the session).

    A KeyboardInterrupt raised while a garbage-collector callback runs (hypothesis has one) would be
    lost and printed as a traceback, so it is not raised there: the session is told to stop too, so
    the run ends before the next test. The controller of xdist workers tells them at once (each ends
    its test, deletes its rooms and reports). Once a KeyboardInterrupt was raised, another signal only
    confirms the stop: a worker gets Ctrl-C from the terminal and the controller's word, and a second
    exception would cut its cleanup or its report short. Until the tests run (configure, xdist starting
    its workers, collection) it is not raised (R9-4): raised there it ended the session unstarted (no
    cleanup, no summary, a stale journal) or inside another plugin's hook wrapper (pluggy's
    PluggyTeardownRaisedWarning). The collection stops at its next collector (pytest checks
    `shouldstop`), and `pytest_runtestloop` raises it before the first test. The preflight is the
    exception: it is stopped at once (R10-1, R10-2: a slow or silent target kept it going, and a kill
    that came later could land in its POST), but for its POST, which ends with its room journalled.
    """
    def interrupt(signum: int, frame: Any) -> None:
        __tracebackhide__ = True  # pytest names where the run was when the signal came, not this handler (R8-4)
        name = signal.Signals(signum).name
        session.shouldstop = f"interrupted by {name}"
        if session.config.stash.get(SIGNALLED, None) == RAISED:
            return
        run = session.config.stash.get(RUN_KEY, None)
        if run is not None and run.target.registry.defer_interrupt(name):  # raised once the room it creates is recorded
            run.target.deadline.stopping = True
            session.config.stash[SIGNALLED] = RAISED
            if not is_worker(session.config) and is_contract_run(session.config):
                stopping.interrupt_the_workers(session.config)
            return
        if not is_worker(session.config) and is_contract_run(session.config) and SIGNALLED not in session.config.stash:
            stopping.interrupt_the_workers(session.config)
        session.config.stash[SIGNALLED] = name
        if TESTING not in session.config.stash and not session.config.stash.get(IN_PREFLIGHT, False):
            return
        if not _in_a_finalizer(frame):  # raised there it would be lost, printed as an "unraisable" traceback
            session.config.stash[SIGNALLED] = RAISED
            raise KeyboardInterrupt(name)

    previous = session.config.stash.setdefault(HANDLERS_BEFORE, {})
    if hasattr(signal, "SIGTERM"):
        previous.setdefault(signal.SIGTERM, signal.signal(signal.SIGTERM, interrupt))
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where SIGINT is ignored on purpose
        previous.setdefault(signal.SIGINT, signal.signal(signal.SIGINT, interrupt))


def give_back_signal_handlers(config: pytest.Config) -> None:
    """The process's own signal handlers come back (R10-7): after `pytest.main()` ended, also before the
    tests, a Ctrl-C is the caller's again. Called by `activation.pytest_unconfigure`, which pytest runs
    also when this module's configure hook ended the run with a usage error (this module's own
    unconfigure hook is then never registered)."""
    for signum, handler in config.stash.get(HANDLERS_BEFORE, {}).items():
        if handler is not None:
            signal.signal(signum, handler)


SIGNALLED = pytest.StashKey[str]()  # this process got SIGINT/SIGTERM: its name, or RAISED once a KeyboardInterrupt was
RAISED = "raised"
TESTING = pytest.StashKey[bool]()  # the session has started and collected: an interrupt is raised where it comes
HANDLERS_BEFORE = pytest.StashKey[dict]()  # the signal handlers the process had before the run's
IN_PREFLIGHT = pytest.StashKey[bool]()  # the preflight runs: an interrupt is raised where it comes (but in its POST)
FINALIZERS = {"gc_callback", "__del__"}  # hypothesis's garbage-collector callback; object finalizers


def _in_a_finalizer(frame: Any, depth: int = 8) -> bool:
    """Whether the signal arrived while a garbage-collector callback or a finalizer ran: an exception
    raised there is not raised in the test but printed as "Exception ignored" (the session stops anyway)."""
    while frame is not None and depth > 0:
        if frame.f_code.co_name in FINALIZERS:
            return True
        frame, depth = frame.f_back, depth - 1
    return False


def pytest_sessionstart(session: pytest.Session) -> None:
    """Once per run (the controller under xdist), before any test: preflight, then leftovers."""
    config = session.config
    run = run_of(config)
    run.recorder.started = time.monotonic()
    config.stash[STARTED_KEY] = time.monotonic()
    max_duration = config.getoption("max_duration", None)
    if max_duration:  # before the first request (the preflight's included): every client shares it
        run.target.deadline = Deadline(max_duration)
    hypothesis_limits.bound_gate_shrinking()
    run.list_readbacks = list_readbacks_per_test(config, settings.get_current_profile_name())
    if is_worker(config) or not is_contract_run(config) or config.option.collectonly:
        return
    if SIGNALLED in config.stash:  # interrupted while the run was configured: no preflight (nothing is created)
        stopping.start_one_worker_only(config)
        return
    target = run.target
    if not target.settings.uses_mock:  # the embedded mock's faults are for the tests to find
        logins = [c for which in ("primary", "second") if (c := target.credentials(which)) is not None]
        config.stash[IN_PREFLIGHT] = True
        try:
            preflight.run(target.base_url, logins, preflight_name(target.registry), target.settings.politeness.timeout,
                          journal=target.registry.cleanup_journal, creating=lambda: _creating_the_preflight_room(target),
                          max_gateway_wait=target.settings.politeness.max_retry_wait)
        except KeyboardInterrupt as interrupt:  # raised before the first test, then the session ends with its sweep
            config.stash[SIGNALLED] = str(interrupt) or "SIGINT"
            stopping.start_one_worker_only(config)
        except preflight.PreflightError as error:
            line = str(error) + (_sweep_after_preflight(target) if error.room_may_exist else "")
            if not error.could_not_test:
                raise pytest.UsageError(line) from None
            status = run_status.status_of(config)  # the options are right; the target cannot be tested now: exit 6, no test runs
            status.stopped = line
            status.could_not_test["preflight"] = line
            session.shouldstop = f"could not test: {line}"
        finally:
            config.stash[IN_PREFLIGHT] = False
    _say_the_target(config, run)
    if config.getoption("delete_leftovers") and not target.settings.uses_mock and SIGNALLED not in config.stash:
        for which in ("primary", "second"):
            login = target.client(which)
            if login is not None:
                for line in delete_leftover_rooms(login, target.registry).lines():
                    config.get_terminal_writer().line(line)


@contextlib.contextmanager
def _creating_the_preflight_room(target: Target) -> Iterator[None]:
    """The preflight's POST: its name is recorded before it is sent (the sweep may delete a room holding
    it), and an interrupt meanwhile waits until the room is journalled."""
    target.registry.record_posted_name(preflight_name(target.registry))
    with target.registry.creating():
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """From here on an interrupt is raised where it comes; one that came while the session started or
    collected its tests is raised now, before the first test (pytest then ends the session as usual)."""
    session.config.stash[TESTING] = True
    if session.config.stash.get(SIGNALLED, RAISED) != RAISED:
        session.config.stash[SIGNALLED] = RAISED
        raise session.Interrupted(session.shouldstop or "interrupted")


def _say_the_target(config: pytest.Config, run: Run) -> None:
    """The target, also with -q (which hides pytest's header), and as a JUnit property."""
    line = f"contract target: {run.target.description}"
    if config.get_verbosity() < 0:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line)
    _junit_property(config, "contract_target", run.target.description)


def _junit_property(config: pytest.Config, name: str, value: Any) -> None:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover
        return
    xml = config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property(name, str(value))


def _sweep_after_preflight(target: Target) -> str:
    """The preflight's room may be on the target: the end-of-run sweep (by the run's name prefix),
    which a run stopped in the preflight never reaches, is done here; the result ends the one line."""
    client = target.client("primary")
    try:
        left = sweep_run_rooms([client], target.registry) if client is not None else None
    except (requests.RequestException, RuntimeError):
        left = None
    if left == []:
        return f" [cleanup: no room named {target.registry.room_name_prefix!r} is left on the target]"
    return f" [cleanup: look for rooms named {target.registry.room_name_prefix!r} on the target and delete them]"


WORKERS_FINISH_S = 8.0  # after an interrupt: a worker ends its request, deletes its rooms and reports in ~1 s


def _stop_the_workers(config: pytest.Config, interrupted: bool) -> None:
    """xdist's own teardown of the workers, run before the controller's end-of-run sweep instead of
    after it (bounded: xdist interrupts a worker still in a test after 5 s and kills it after 10 s).
    After a finished run the workers are done already. After an interrupt they were told at once
    (`stopping`), and their last reports and summary parts are read first (at most WORKERS_FINISH_S):
    a worker could otherwise create a room after the sweep or be killed before it deleted its own."""
    manager = getattr(config.pluginmanager.getplugin("dsession"), "nodemanager", None)
    if manager is None:
        return
    if interrupted:  # the workers were told at the signal (or told themselves): read their last words
        stopping.interrupt_the_workers(config)  # any not told yet (an interrupt that reached only a worker)
        stopping.hear_the_workers_out(config, WORKERS_FINISH_S)
    manager.teardown_nodes()


def _sweep_at_the_end(target: Target) -> tuple[list[str], set[str] | None]:
    """Once per run, after every worker, before the mock stops: delete the rooms the run's workers
    journalled and did not delete (a worker stopped in a test), then any listed room holding a name the
    run POSTed (one created behind a refusal or a lost answer). Returns what could not be deleted, and
    the sids the workers' journals say they created (None: no journals), which an interrupted worker
    could not report itself."""
    if target.settings.uses_mock:
        return [], None
    logins = [c for c in (target.client("primary"), target.client("second")) if c is not None]
    own = target.registry.cleanup_journal
    left: list[str] = []
    created: set[str] | None = set() if isinstance(own, CleanupJournal) else None
    for login in logins if isinstance(own, CleanupJournal) else []:  # the workers' journals of this run (ended now)
        result = cleanup_journalled(own.state_dir, login, own=own, run=target.registry.run_id)
        left += [f"{pending.sid} ({why})" for pending, why in result.failed]
        created |= result.created
        if result.busy_journals and login is logins[0]:  # a worker that outlived xdist's teardown
            left.append(f"(rooms journalled by {result.busy_journals} worker(s) of this run still running: "
                        "`--delete-leftovers` deletes them once they are gone)")
    if not target.registry.posted_any_name():  # e.g. interrupted before the preflight's POST: no list to read
        return left, created
    try:
        return left + sweep_run_rooms(logins, target.registry), created
    except (requests.RequestException, RuntimeError) as error:
        # Not silent: the warning and the summary's rooms_left_behind say the sweep was not done.
        return left + [f"(end-of-run sweep for rooms named {target.registry.room_name_prefix!r} not done: "
                       f"{type(error).__name__}; look for them by that name)"], created


def duration(config: pytest.Config) -> float | None:
    """Seconds since the session started (None before)."""
    started = config.stash.get(STARTED_KEY, None)
    return None if started is None else round(time.monotonic() - started, 1)


def pytest_runtest_setup(item: pytest.Item) -> None:
    run_of(item.config).recorder.current_test = item.nodeid


@pytest.hookimpl(wrapper=True)
def pytest_exception_interact(node: Any, call: Any, report: Any) -> Any:
    """Keep the failure text this plugin made (violation, "could not test", redacted): schemathesis's
    plugin re-renders a failure whose exception group holds look-alike errors (its de-duplication)
    after the report was logged, which brought back raw tracebacks and unredacted text."""
    ours = getattr(report, "longrepr", None)
    try:
        return (yield)
    finally:
        if ours is not None and RUN_KEY in node.config.stash:
            report.longrepr = ours


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """--stop-on-rule: end the run once a test's call (not a fixture) failed with that rule."""
    report = yield
    run = run_of(item.config)
    if report.failed and report.longrepr is not None:
        report.longrepr = run.target.redactor.scrub(str(report.longrepr))  # no password (nor its token) in any failure
    if report.failed and report.when == "call":
        hypothesis_limits.shorten_later_gate_shrinking()
        failed_rules = run.recorder.call_failed(item.nodeid)
        stop_rule = item.config.getoption("stop_on_rule")
        if stop_rule and stop_rule in failed_rules:
            item.session.shouldfail = f"a violation of {stop_rule} was found"
    return report


NOT_JUDGED_SHOWN = 5  # reasons listed per rule at the end of a run (all of them are in contract-summary.json)


@pytest.hookimpl(tryfirst=True)  # before pytest-html writes report.html, whose summary links the contract report
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Delete every room the run created (also after failures and Ctrl-C), then write the summary."""
    config = session.config
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    target = run.target
    target.deadline.try_again()  # the cleanup tries once more after "could not test", also past --max-duration (60 s more at most)
    remaining: list[str] = []
    workers_created: set[str] | None = None
    # SIGINT/SIGTERM that come now only stop what was ending anyway: noted, never raised, so that the
    # rooms are deleted, the journal closed and the summary written (the exit status stays the run's)
    with signals_held(redeliver=False):
        for stop in run.before_cleanup:  # background put-backs: none reaches the target after the cleanup
            stop()
        if not is_worker(config) and is_contract_run(config):
            _stop_the_workers(config, interrupted=SIGNALLED in config.stash or int(exitstatus) == int(
                pytest.ExitCode.INTERRUPTED))  # before the sweep: no worker creates a room after it
            remaining, workers_created = _sweep_at_the_end(target)
        remaining = sorted(set(target.close()) | set(remaining))
    if remaining:
        writer = config.get_terminal_writer()
        writer.line()  # on a line of its own, never glued to pytest's progress line
        writer.line(f"WARNING: {len(remaining)} room(s) could not be deleted (the target refused or did not answer; "
                    "their login and sid are in the cleanup journal, and --delete-leftovers tries them again):", red=True)
        for sid in remaining:
            writer.line(f"  {sid}", red=True)
    report_dir = config.stash.get(REPORT_DIR_KEY, None)
    part = {**run.recorder.to_dict(), "requests_sent": target.counter.value,
            "rooms_created": _own_rooms_created(target), "rooms_left_behind": remaining,
            "rooms_not_ours": [list(entry) for entry in target.registry.foreign_rooms()]}
    if is_worker(config):  # xdist sends it to the controller (pytest_testnodedown)
        if report_dir:
            config.workeroutput[OBSERVATIONS] = part  # type: ignore[attr-defined]
        return
    if not is_contract_run(config):
        return
    parts = [part, *config.stash.get(WORKER_PARTS_KEY, [])]
    not_ours = _rooms_not_ours(parts, target.registry.listed_at_the_end)  # the workers' too: their output is not shown
    for sid, why in not_ours:
        config.get_terminal_writer().line(f"WARNING: room {sid} {why}: not deleted, check it by hand", red=True)
    arrival = list(config.stash.get(ARRIVAL_KEY, []))
    summary = merge(parts, arrival)
    if arrival:  # the test pytest lists first (FIRST FAILURE, the first failure block, JUnit's first failed testcase)
        summary["first_failure"] = first_failure(summary, arrival[0], config.stash.get(HEADLINES_KEY, {}).get(arrival[0], ""))
    config.stash[SUMMARY_KEY] = summary
    left = sorted({sid for p in parts for sid in p.get("rooms_left_behind", [])})
    profile = hypothesis_limits.current_profile()
    decided = run_status.decide(config, int(exitstatus), summary, left, second_account=target.client("second") is not None,
                                profile=profile)
    session.exitstatus = decided.final
    meaning = run_status.meaning(decided)
    workers = _workers_started(config, reported=len(parts) - 1)
    _junit_property(config, "contract_workers", workers)
    _junit_property(config, "contract_exit_status", decided.final)
    _junit_property(config, "contract_status", meaning)
    if not report_dir:
        return
    header = {"target": target.description, "spec": run.spec.description, "spec_path": str(run.spec.path),
              "run_id": target.registry.run_id, "workers": workers,
              "profile": profile, "exit_status": decided.final, "status": meaning,
              "strict": run_status.strict(config, profile),
              "outcome": "passed" if decided.final == 0 else f"{meaning} (exit {decided.final})",
              "rooms_created": _rooms_created(parts, workers_created), "rooms_left_behind": left,
              "rooms_not_ours": [{"sid": sid, "why": why} for sid, why in not_ours],
              "rules_not_checked": dict(decided.rules_not_checked), "incomplete": list(decided.incomplete),
              "rules_not_applicable": dict(decided.not_applicable),
              "could_not_test": dict(decided.could_not_test),
              "duration_seconds": duration(config), "started_at": _started_at(config), "pins": dict(run.pins),
              "contract_doc": contract_doc_link(Path(report_dir)), "files": _written_beside(config, Path(report_dir))}
    config.stash[REPORT_KEY] = write_summary(summary, Path(report_dir), header, target.redactor)


def _started_at(config: pytest.Config) -> str | None:
    """When the session started, in UTC (ISO 8601, seconds)."""
    took = duration(config)
    if took is None:
        return None
    return datetime.datetime.fromtimestamp(time.time() - took, datetime.timezone.utc).isoformat(timespec="seconds")


def _written_beside(config: pytest.Config, report_dir: Path) -> dict[str, str | None]:
    """Where this run's JUnit XML and pytest-html page go, relative to the report directory (None: not
    written by this run), so contract-report.html links only to files the run writes."""
    found: dict[str, str | None] = {}
    for name, path in (("junit", getattr(config.option, "xmlpath", None)), ("html", getattr(config.option, "htmlpath", None))):
        found[name] = os.path.relpath(Path(path).resolve(), report_dir.resolve()) if path else None
    return found


def first_failure(summary: dict[str, Any], test: str, headline: str) -> dict[str, Any]:
    """The run's first failure for the summaries: its test, its one line, its root cause's group and story."""
    group = next((g for g in summary.get("failure_groups", []) if test in g.get("tests", [])), None)
    entry = next((e for e in summary.get("reported_failures", []) if e.get("test") == test), {})
    return {"test": test, "headline": headline, "rule": group["rule"] if group else headline.split(":")[0],
            "group": summary.get("failure_groups", []).index(group) + 1 if group else None,
            "failure_id": entry.get("failure_id")}


def _own_rooms_created(target: Target) -> int:
    """The rooms this process created: on a real target every one is journalled (the preflight's
    included, which no test's registry holds)."""
    journal = target.registry.cleanup_journal
    if isinstance(journal, CleanupJournal):
        return len(journal.created_sids)
    return target.registry.created_count()


def _rooms_created(parts: list[dict[str, Any]], workers_created: set[str] | None) -> int:
    """The rooms the run created: the controller's own count (parts[0]) and its workers', from their
    journals when the run kept them (exact also for a worker an interrupt kept from reporting)."""
    if workers_created is None or len(parts) == 1 and not workers_created:
        return sum(int(p.get("rooms_created", 0)) for p in parts)
    return int(parts[0].get("rooms_created", 0)) + len(workers_created)


def _workers_started(config: pytest.Config, reported: int) -> int:
    """How many xdist workers the run started (0: serial), also when an interrupt kept them from reporting."""
    option = config.option
    started = int(getattr(option, "numprocesses", 0) or 0) if getattr(option, "dist", "no") != "no" else 0
    return max(started, reported)


def _rooms_not_ours(parts: list[dict[str, Any]], listed_at_the_end: set[Any] | None) -> list[tuple[str, str]]:
    """(sid, why) of every room a process of the run saw but could not prove it created, once each, that
    is still on the target (the end-of-run sweep listed it; without a sweep, all): under xdist a worker
    cannot tell another worker's room from a stranger's, and that room is gone by now."""
    seen: dict[str, str] = {}
    for part in parts:
        for sid, why in part.get("rooms_not_ours", []):
            if listed_at_the_end is None or sid in listed_at_the_end:
                seen.setdefault(sid, why)
    return list(seen.items())


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = run_of(config)
    return [f"contract target: {run.target.description} (hypothesis profile: {hypothesis_limits.current_profile()})",
            f"contract spec: {run.spec.description}"]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Show the allowed behaviours the target was seen to pick, and any drift."""
    summary = config.stash.get(SUMMARY_KEY, None) or run_of(config).recorder.to_dict()
    decided = run_status.status_of(config)
    if decided.final is not None and not is_worker(config):
        terminalreporter.section("contract status")
        for line in run_status.not_green_lines(decided):
            terminalreporter.line(line, yellow=True)
        terminalreporter.line(f"contract target: {run_of(config).target.description}; exit status {decided.final}: "
                              f"{run_status.meaning(decided)}",
                              green=decided.final == 0, red=decided.final != 0, bold=True)
    if not (summary["behaviours"] or summary["drift"] or summary.get("not_checked")):
        return
    terminalreporter.section("contract observations")
    checked = {row["rule"] for row in summary.get("checks", []) if row.get("run")}
    for rule_id, values in summary.get("not_checked", {}).items():
        # R8-6: a rule checked by other answers is not "not checked"; only these answers were not judged
        label = f"NOT JUDGED (the rule was checked on other answers), {rule_id}" if rule_id in checked \
            else f"NOT CHECKED, {rule_id}"
        terminalreporter.line(f"{label}: {sum(values.values())} answer(s), {len(values)} reason(s):", yellow=True)
        for value, count in list(values.items())[:NOT_JUDGED_SHOWN]:  # one short line each: the JSON summary has all
            terminalreporter.line(f"  {value if len(value) <= 200 else value[:199] + '…'} x{count}", yellow=True)
        if len(values) > NOT_JUDGED_SHOWN:
            terminalreporter.line(f"  ... {len(values) - NOT_JUDGED_SHOWN} more (contract-summary.json, not_checked)",
                                  yellow=True)
    for name, values in summary["behaviours"].items():
        terminalreporter.line(f"{name}: " + ", ".join(f"{value} x{count}" for value, count in values.items()))
    for kind, values in summary["drift"].items():
        terminalreporter.line(f"drift, {kind}: " + ", ".join(f"{value} x{count}" for value, count in values.items()))
