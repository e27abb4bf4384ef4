"""Pytest options, hypothesis profiles and fixtures of the contract suite.

Target selection: `--base-url/--username/--password` (and `--second-*` for isolation checks),
each also read from CONFERENCE_* environment variables; options win. Without a base URL the
embedded mock is started on a loopback port.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import InvalidArgument
from schemathesis.pytest.plugin import SchemathesisFunction

from meeting_room_contract import preflight, rules, spec
from meeting_room_contract import target as target_module
from meeting_room_contract.checks import KNOWN_DID_GROUPS, ContractViolation, PropertiesModeTracker
from meeting_room_contract.client import DEFAULT_MAX_RETRY_WAIT_S, ConferenceClient, Politeness
from meeting_room_contract.journal import DEFAULT_STATE_DIR, STATE_DIR_ENV, CleanupJournal
from meeting_room_contract.mock.behaviours import check_names
from meeting_room_contract.observations import RECORDER, merge, write_summary
from meeting_room_contract.puts import PutStyle, probe_put_style
from meeting_room_contract.redaction import redact
from meeting_room_contract.rooms import (RoomFactory, delete_leftover_rooms, load_codes_in_use, preflight_name,
                                         sweep_run_rooms)
from meeting_room_contract.target import Target, TargetSettings

ROOT = Path(__file__).resolve().parent
pytest_plugins = ["meeting_room_contract.reporting"]  # failure output, report.html summary, --contract-traceback

# -- hypothesis profiles ----------------------------------------------------------------------------
_COMMON: dict[str, Any] = dict(deadline=None, print_blob=True,
                               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("gate", max_examples=25, derandomize=True, database=None, stateful_step_count=8, **_COMMON)
settings.register_profile("nightly", max_examples=300, stateful_step_count=25,
                          database=DirectoryBasedExampleDatabase(str(ROOT / ".hypothesis" / "examples")), **_COMMON)
settings.register_profile("dev", max_examples=10, derandomize=True, database=None, stateful_step_count=5, **_COMMON)
ENV_PROFILE = os.environ.get("CONFERENCE_HYPOTHESIS_PROFILE", "gate")  # loaded once checked (_check_options)


def _no_local_constants() -> None:
    """Generated data never contains string (or number) constants mined from the project's source.

    Hypothesis (since 6.131) collects the literals of every "local" module (here src/ and the
    conftests: mock faults, messages, env var names) and draws them now and then for text,
    integers and floats. 6.170 has no setting for it (none of `settings`' options; a custom
    `backend` would switch off engine features meant for the built-in one), so, as with the
    shrink limit below, the engine's collector is set to return an empty pool for all profiles.
    """
    from hypothesis.internal.conjecture import providers

    empty = providers.Constants()
    if hasattr(providers, "_get_local_constants"):
        providers._get_local_constants = lambda: empty


_no_local_constants()

ENV = {
    "base_url": "CONFERENCE_BASE_URL",
    "username": "CONFERENCE_USERNAME",
    "password": "CONFERENCE_PASSWORD",
    "second_username": "CONFERENCE_SECOND_USERNAME",
    "second_password": "CONFERENCE_SECOND_PASSWORD",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conference", "CarrierX Conference v2 contract target")
    group.addoption("--base-url", help="API base URL incl. prefix, e.g. https://api.carrierx.com/conference/v2 "
                                       "(env CONFERENCE_BASE_URL; default: the embedded mock)")
    group.addoption("--username", help="login (env CONFERENCE_USERNAME)")
    group.addoption("--password", help="password (env CONFERENCE_PASSWORD); never printed or written")
    group.addoption("--second-username", help="login of a second account, for isolation checks (env CONFERENCE_SECOND_USERNAME)")
    group.addoption("--second-password", help="its password (env CONFERENCE_SECOND_PASSWORD)")
    group.addoption("--spec", help="the OpenAPI spec the suite, the embedded mock and the report use: a file, or a directory "
                                   "with exactly one *.yaml (env CONFERENCE_SPEC; default openapi/conference-v2-meeting-rooms.yaml): "
                                   "test a candidate spec before merging it")
    group.addoption("--mock-fault", action="append", default=[], metavar="NAME",
                    help="embedded mock only: inject a contract violation (repeatable)")
    group.addoption("--mock-variant", action="append", default=[], metavar="NAME",
                    help="embedded mock only: another allowed behaviour (repeatable)")
    group.addoption("--pin", action="append", default=[], metavar="NAME=ALTERNATIVE",
                    help="require one allowed behaviour instead of accepting every alternative, e.g. "
                         "properties_on_patch=merge (repeatable; env CONFERENCE_PINS, comma-separated). "
                         "The behaviours and their alternatives are listed in CONTRACT.md")
    group.addoption("--stop-on-rule", metavar="RULE",
                    help="stop the run at the first test failing with a violation of RULE (used by the self-test)")
    group.addoption("--request-timeout", type=float, default=15.0, help="seconds per request (default 15)")
    group.addoption("--rate-limit", type=float, default=0.0, help="max requests per second (default: unlimited)")
    group.addoption("--room-prefix", default="contract-test", help="name prefix of rooms the suite creates")
    group.addoption("--delete-leftovers", action="store_true",
                    help="before the run, delete every room that dead runs on this machine journalled (by sid, any age, "
                         "whatever its name); prefixed rooms in no journal are only reported")
    group.addoption("--state-dir", default=None,
                    help=f"where the crash-proof journal of created rooms is kept (env {STATE_DIR_ENV}; "
                         f"default {DEFAULT_STATE_DIR}/); keep it between CI runs to clean up after a killed run")
    group.addoption("--max-retry-wait", type=float, default=DEFAULT_MAX_RETRY_WAIT_S,
                    help="seconds one request may wait out 429 answers (Retry-After, seconds or HTTP date) in total; "
                         f"beyond it the target could not be tested (default {DEFAULT_MAX_RETRY_WAIT_S:g})")
    group.addoption("--report-dir", default=None, help="where reports go (default: reports/ for contract runs)")


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name)
    if value in (None, "") and name in ENV:
        value = os.environ.get(ENV[name]) or None
    return value


def _is_contract_run(config: pytest.Config) -> bool:
    args = config.args or []
    return any("contracts" in Path(str(arg).split("::")[0]).parts for arg in args)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    try:  # first: everything after this reads the chosen spec
        spec.set_spec_path(config.getoption("spec") or os.environ.get(spec.SPEC_ENV) or None)
    except ValueError as error:
        given_by = "--spec" if config.getoption("spec") else f"--spec (from {spec.SPEC_ENV})"
        raise pytest.UsageError(f"{given_by}: {error}") from None
    _check_options(config)
    try:
        pins = rules.parse_pins([os.environ.get("CONFERENCE_PINS", ""), *config.getoption("pin")])
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    rules.set_pins(pins)
    stop_rule = config.getoption("stop_on_rule")
    if stop_rule and stop_rule not in rules.RULES:
        raise pytest.UsageError(f"--stop-on-rule {stop_rule!r}: not a rule id of CONTRACT.md")
    target_settings = TargetSettings(
        base_url=_option(config, "base_url"),
        username=_option(config, "username"),
        password=_option(config, "password"),
        second_username=_option(config, "second_username"),
        second_password=_option(config, "second_password"),
        mock_faults=tuple(config.getoption("mock_fault")),
        mock_variants=tuple(config.getoption("mock_variant")),
        politeness=Politeness(timeout=config.getoption("request_timeout"), rate_limit=config.getoption("rate_limit"),
                              max_retry_wait=config.getoption("max_retry_wait")),
        name_prefix=config.getoption("room_prefix"),
    )
    try:
        target = Target(target_settings, run_id=_run_id(config))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[TARGET_KEY] = target
    target_module.set_current(target)
    if not target.settings.uses_mock:  # every room created on a real target is journalled on disk at once
        state_dir = config.getoption("state_dir") or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
        target.registry.attach_journal(CleanupJournal(state_dir, target.registry.run_id))
    report_dir = config.getoption("report_dir") or ("reports" if _is_contract_run(config) else None)
    config.stash[REPORT_DIR_KEY] = report_dir
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        if not config.option.xmlpath:
            config.option.xmlpath = str(Path(report_dir) / "junit.xml")
        if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
            config.option.htmlpath = str(Path(report_dir) / "report.html")
            config.option.self_contained_html = True
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where SIGINT is ignored on purpose
        signal.signal(signal.SIGINT, _interrupt)


def _check_options(config: pytest.Config) -> None:
    """Bad options are usage errors (one line, exit code 4), found before anything starts."""
    profile = config.getoption("hypothesis_profile", None)
    if not _known_profile(ENV_PROFILE):
        raise pytest.UsageError(f"unknown hypothesis profile {ENV_PROFILE!r} in CONFERENCE_HYPOTHESIS_PROFILE: "
                                "use gate, nightly or dev")
    settings.load_profile(ENV_PROFILE)
    try:
        preflight.check_options(
            base_url=_option(config, "base_url"), username=_option(config, "username"),
            password=_option(config, "password"), second_username=_option(config, "second_username"),
            second_password=_option(config, "second_password"), mock_faults=config.getoption("mock_fault"),
            mock_variants=config.getoption("mock_variant"), request_timeout=config.getoption("request_timeout"),
            rate_limit=config.getoption("rate_limit"), room_prefix=config.getoption("room_prefix"),
            profile=profile, known_profile=_known_profile, check_mock_names=check_names)
    except preflight.PreflightError as error:
        raise pytest.UsageError(str(error)) from None


def _known_profile(name: str) -> bool:
    try:
        settings.get_profile(name)
    except InvalidArgument:
        return False
    return True


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _run_id(config: pytest.Config) -> str | None:
    """xdist workers share the controller's run id (room names, leftovers, cleanup)."""
    return getattr(config, "workerinput", {}).get("conference_run_id") or os.environ.get("CONFERENCE_RUN_ID")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["conference_run_id"] = node.config.stash[TARGET_KEY].registry.run_id


def _name_the_spec_in_the_html_report(config: pytest.Config) -> None:
    """pytest-html shows pytest-metadata's table: the spec (path and short hash) goes there too."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = config.stash.get(metadata_key, None)
    if metadata is not None:
        metadata["Contract spec"] = spec.describe()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Once per run (the controller under xdist), before any test: preflight, then leftovers."""
    RECORDER.started = time.monotonic()
    _RUNNING[:] = [session]
    _bound_gate_shrinking()
    config = session.config
    _name_the_spec_in_the_html_report(config)
    if _is_worker(config) or not _is_contract_run(config) or config.option.collectonly:
        return
    target = config.stash[TARGET_KEY]
    if not target.settings.uses_mock:  # the embedded mock's faults are for the tests to find
        logins = [c for which in ("primary", "second") if (c := target.credentials(which)) is not None]
        target.registry.record_posted_name(preflight_name(target.registry))  # the sweep may delete it
        try:
            preflight.run(target.base_url, logins, preflight_name(target.registry),
                          target.settings.politeness.timeout, journal=target.registry.cleanup_journal)
        except preflight.PreflightError as error:
            raise pytest.UsageError(str(error) + (_sweep_after_preflight(target) if error.room_may_exist else "")) from None
    if config.getoption("delete_leftovers") and not target.settings.uses_mock:
        for which in ("primary", "second"):
            login = target.client(which)
            if login is not None:
                for line in delete_leftover_rooms(login, target.registry).lines():
                    config.get_terminal_writer().line(line)


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


_RUNNING: list[pytest.Session] = []


def _interrupt(signum: int, _frame: Any) -> None:
    """Ctrl-C or SIGTERM: stop the run (the rooms are still deleted at the end of the session).

    The KeyboardInterrupt can be lost: raised while a garbage-collector callback runs (hypothesis
    has one), Python only prints it as "unraisable". The session is told to stop too, so the run
    ends, interrupted (exit 2), before the next test at the latest.
    """
    name = signal.Signals(signum).name
    for session in _RUNNING:
        session.shouldstop = f"interrupted by {name}"
    raise KeyboardInterrupt(name)


TARGET_KEY = pytest.StashKey[Target]()
REPORT_DIR_KEY = pytest.StashKey["str | None"]()


GATE_SHRINK_SECONDS = 4  # the run's first failure
GATE_LATER_SHRINK_SECONDS = 1  # once the gate is red: later failures are reported nearly as found


def _bound_gate_shrinking() -> None:
    """Bounded shrinking in the gate profile: a failing gate says what is wrong within a minute.

    Hypothesis shrinks a failure for up to 5 minutes; the gate allows 4 s for the run's first
    failure and 1 s for each later one (a failure is still reported, with the example found so far
    and its `@reproduce_failure` blob), so a red gate ends within a minute. Nightly and dev runs
    shrink fully. Hypothesis has no setting for this, so the engine's limit is set here.
    """
    from hypothesis.internal.conjecture import engine

    if settings._current_profile == "gate" and hasattr(engine, "MAX_SHRINKING_SECONDS"):
        engine.MAX_SHRINKING_SECONDS = GATE_SHRINK_SECONDS
        engine.report = _gate_shrink_report(engine)


def _shorten_later_gate_shrinking() -> None:
    from hypothesis.internal.conjecture import engine

    if settings._current_profile == "gate" and hasattr(engine, "MAX_SHRINKING_SECONDS"):
        engine.MAX_SHRINKING_SECONDS = min(engine.MAX_SHRINKING_SECONDS, GATE_LATER_SHRINK_SECONDS)


def _gate_shrink_report(engine: Any) -> Any:
    """Hypothesis's "spent more than five minutes ... PLEASE REPORT THIS" warning, said as it is in the gate."""

    report = engine.report

    def gate_report(value: Any) -> None:
        if isinstance(value, str) and "spent more than five minutes working to shrink" in value:
            value = (f"Shrinking stopped after {engine.MAX_SHRINKING_SECONDS} s (gate profile): the example shown is the "
                     f"smallest found so far; `--hypothesis-profile nightly` shrinks it fully.")
        report(value)

    return gate_report


def pytest_report_header(config: pytest.Config) -> str:
    target = config.stash[TARGET_KEY]
    return [f"contract target: {target.description} (hypothesis profile: {settings._current_profile})",
            f"contract spec: {spec.describe()}"]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Show the allowed behaviours the target was seen to pick, and any drift."""
    summary = config.stash.get(SUMMARY_KEY, None) or RECORDER.to_dict()
    if not (summary["behaviours"] or summary["drift"] or summary.get("not_checked")):
        return
    terminalreporter.section("contract observations")
    for rule_id, values in summary.get("not_checked", {}).items():
        terminalreporter.line(f"NOT CHECKED, {rule_id}: " + ", ".join(f"{value} x{count}" for value, count in values.items()),
                              yellow=True)
    for name, values in summary["behaviours"].items():
        terminalreporter.line(f"{name}: " + ", ".join(f"{value} x{count}" for value, count in values.items()))
    for kind, values in summary["drift"].items():
        terminalreporter.line(f"drift, {kind}: " + ", ".join(f"{value} x{count}" for value, count in values.items()))


def pytest_runtest_setup(item: pytest.Item) -> None:
    RECORDER.current_test = item.nodeid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """--stop-on-rule: end the run once a test's call (not a fixture) failed with that rule."""
    report = yield
    if report.failed and report.longrepr is not None:
        report.longrepr = redact(str(report.longrepr), item.config.stash[TARGET_KEY].redactor)  # no password (nor its Basic token) in any failure text
    if report.failed and report.when == "call":
        _shorten_later_gate_shrinking()
        failed_rules = RECORDER.call_failed(item.nodeid)
        stop_rule = item.config.getoption("stop_on_rule")
        if stop_rule and stop_rule in failed_rules:
            item.session.shouldfail = f"a violation of {stop_rule} was found"
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Delete every room the run created (also after failures and Ctrl-C), then write the summary."""
    config = session.config
    target = config.stash.get(TARGET_KEY, None)
    remaining = target.close(sweep=not _is_worker(config) and _is_contract_run(config)) if target is not None else []
    if remaining:
        session.config.get_terminal_writer().line(f"WARNING: could not delete rooms {remaining}", red=True)
    for line in target.registry.foreign_warning() if target is not None else []:
        session.config.get_terminal_writer().line(f"WARNING: {line}", red=True)
    report_dir = config.stash.get(REPORT_DIR_KEY, None)
    if not report_dir or target is None:
        return
    part = {**RECORDER.to_dict(), "requests_sent": target.counter.value,
            "rooms_created": target.registry.created_count(), "rooms_left_behind": remaining}
    if _is_worker(config):  # xdist sends it to the controller (pytest_testnodedown)
        config.workeroutput[OBSERVATIONS] = part  # type: ignore[attr-defined]
        return
    parts = [part, *config.stash.get(WORKER_PARTS_KEY, [])]
    summary = merge(parts)
    config.stash[SUMMARY_KEY] = summary
    header = {"target": target.description, "spec": spec.describe(), "run_id": target.registry.run_id,
              "profile": settings._current_profile, "outcome": "passed" if exitstatus == 0 else f"failed (exit {exitstatus})",
              "rooms_created": sum(int(p.get("rooms_created", 0)) for p in parts),
              "rooms_left_behind": sorted({sid for p in parts for sid in p.get("rooms_left_behind", [])}),
              "duration_seconds": _duration(config), "pins": dict(rules.PINS)}
    write_summary(summary, Path(report_dir), header, target.redactor)


OBSERVATIONS = "conference_observations"
WORKER_PARTS_KEY = pytest.StashKey[list]()
SUMMARY_KEY = pytest.StashKey[dict]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Collect a finished xdist worker's observations (sent through xdist's own channel)."""
    part = getattr(node, "workeroutput", {}).get(OBSERVATIONS)
    if part is not None:
        node.config.stash.setdefault(WORKER_PARTS_KEY, []).append(part)


def _duration(config: pytest.Config) -> float | None:
    from meeting_room_contract.reporting import duration  # loaded as a plugin (pytest_plugins) before this runs

    return duration(config)


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return pytestconfig.stash[TARGET_KEY]


@pytest.fixture(scope="session")
def client(target: Target, pytestconfig: pytest.Config) -> ConferenceClient:
    """The primary login's client."""
    primary = target.client("primary")
    assert primary is not None
    load_codes_in_use(primary)  # generated access codes avoid the codes the account's rooms hold
    return primary


@pytest.fixture(scope="session")
def second_client(target: Target, client: ConferenceClient) -> ConferenceClient:
    """A second account's client; tests that need one skip when none is configured."""
    second = target.client("second")
    if second is None:
        pytest.skip("no second account: give --second-username/--second-password "
                    "(or CONFERENCE_SECOND_USERNAME/CONFERENCE_SECOND_PASSWORD) to run isolation checks")
    return second


@pytest.fixture(scope="session")
def anonymous_client(target: Target) -> ConferenceClient:
    anonymous = target.client("anonymous")
    assert anonymous is not None
    return anonymous


@pytest.fixture(scope="session")
def did_groups(client: ConferenceClient) -> list[str]:
    """Valid `did_group_sid` values: the primary account's DID groups, read from the target."""
    groups = client.did_group_sids()
    KNOWN_DID_GROUPS.update(groups)  # an accepted did_group_sid outside these is a violation
    return groups


@pytest.fixture(scope="session")
def rooms(client: ConferenceClient) -> RoomFactory:
    return RoomFactory(client)


@pytest.fixture(scope="session")
def properties_tracker() -> PropertiesModeTracker:
    """Whether the target merges or replaces `properties` on PATCH (pinned with --pin properties_on_patch=...)."""
    return PropertiesModeTracker()


@pytest.fixture(scope="session")
def put_style(client: ConferenceClient, rooms: RoomFactory, did_groups: list[str]) -> PutStyle:
    """Whether the target's PUT needs the current read-only values (probed once, reported).

    A target that accepts no PUT at all fails `test_put.py::test_a_valid_put_is_accepted_with_or_without_read_only_fields`;
    here the run goes on with the default style so that every other test still judges PUT answers.
    """
    try:
        return probe_put_style(client, rooms, did_groups)
    except ContractViolation:
        return PutStyle()


@pytest.fixture(scope="session")
def other_room(rooms: RoomFactory) -> Iterator[dict[str, Any]]:
    """Another room of the primary account, alive for the whole run (a source of real sids)."""
    with rooms.fresh(label="other") as created:
        yield created


@pytest.fixture(scope="session")
def second_account_room(target: Target, rooms: RoomFactory) -> Iterator[dict[str, Any] | None]:
    """A room of the second account, or None when no second account is configured."""
    second = target.client("second")
    if second is None:
        yield None
        return
    with rooms.fresh(client=second, label="second") as created:
        yield created


@pytest.fixture
def room(rooms: RoomFactory) -> Iterator[dict[str, Any]]:
    """A fresh room for one test, deleted afterwards."""
    with rooms.fresh() as created:
        yield created


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the longest tests first: `--dist load` then deals them out round robin."""
    if _is_worker(config):
        items.sort(key=_expected_cost)


def _expected_cost(item: pytest.Item) -> int:
    """0: state machines, 1: schemathesis, 2: other hypothesis tests, 3: the rest (longest first)."""
    if isinstance(getattr(item.cls, "settings", None), settings):
        return 0
    if isinstance(item, SchemathesisFunction):
        return 1
    return 2 if item.get_closest_marker("hypothesis") else 3
