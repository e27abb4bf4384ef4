"""Options, environment variables and hypothesis profiles; bad options are usage errors (one line, exit 4)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import InvalidArgument

from .. import preflight, rules, spec
from ..transport import DEFAULT_MAX_RETRY_WAIT_S
from ..journal import DEFAULT_STATE_DIR, STATE_DIR_ENV
from ..mock.behaviours import check_names
from ..model import Model
from ..rooms import check_room_prefix
from .scope import is_contract_run

ENV = {
    "base_url": "CONFERENCE_BASE_URL",
    "username": "CONFERENCE_USERNAME",
    "password": "CONFERENCE_PASSWORD",
    "second_username": "CONFERENCE_SECOND_USERNAME",
    "second_password": "CONFERENCE_SECOND_PASSWORD",
}
PROFILE_ENV = "CONFERENCE_HYPOTHESIS_PROFILE"
LIST_READBACKS_GATE = 5  # list read-backs per test in a gate (an update's list item; every one in the nightly)

_COMMON: dict[str, Any] = dict(deadline=None, print_blob=True,
                               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("gate", max_examples=25, derandomize=True, database=None, stateful_step_count=8, **_COMMON)
settings.register_profile("nightly", max_examples=300, stateful_step_count=25,
                          database=DirectoryBasedExampleDatabase(str(Path(".hypothesis") / "examples")), **_COMMON)
settings.register_profile("dev", max_examples=10, derandomize=True, database=None, stateful_step_count=5, **_COMMON)


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
    group.addoption("--list-readbacks", default=None, metavar="N|all",
                    help="after how many accepted updates per test the room's list item is read back too (the GET by "
                         f"sid always is): default {LIST_READBACKS_GATE} in the gate and dev profiles, all in the nightly")
    group.addoption("--wrong-password-window", type=float, default=15.0, metavar="MINUTES",
                    help="a login's one wrong-password probe is not sent again within MINUTES of the last one by any run "
                         "sharing --state-dir (parallel pipelines on one login; default 15; 0: once per run)")
    group.addoption("--cross-login-probes", action="store_true", default=False,
                    help="also send a real login's password under a made-up user and under the other login's name (a "
                         "server that checks a password against any account); off against --base-url, where an identity "
                         "provider may take it for a password spray; always on for the embedded mock")
    group.addoption("--contract-run", action="store_true", default=False,
                    help="act as a contract run although no `contracts` directory is among the paths (the plugin is "
                         "passive in every other pytest run: no report, no spec read, no environment variable set)")
    from . import reporting, status  # their options too: every option is known in every run, their hooks only in contract runs

    status.add_options(parser)
    reporting.add_options(parser)


def option(config: pytest.Config, name: str) -> Any:
    """An option's value, else its CONFERENCE_* environment variable (options win)."""
    value = config.getoption(name)
    if value in (None, "") and name in ENV:
        value = os.environ.get(ENV[name]) or None
    return value


def chosen_spec(config: pytest.Config) -> spec.Spec:
    """The run's spec (`--spec`, CONFERENCE_SPEC, or the default), checked; a usage error otherwise."""
    given = config.getoption("spec") or os.environ.get(spec.SPEC_ENV) or None
    try:
        already = getattr(config, "workerinput", {}).get("conference_spec_sha256")  # checked by the xdist controller
        chosen = spec.checked(given, checked_sha256=already)
    except ValueError as error:
        given_by = "--spec" if config.getoption("spec") else f"--spec (from {spec.SPEC_ENV})"
        raise pytest.UsageError(f"{given_by}: {error}") from None
    os.environ[spec.SPEC_ENV] = str(chosen.path)  # xdist workers and subprocesses use the same spec
    return chosen


def chosen_pins(config: pytest.Config) -> dict[str, str]:
    try:
        return rules.parse_pins([os.environ.get("CONFERENCE_PINS", ""), *config.getoption("pin")])
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


CREDENTIAL_OPTIONS = ("username", "password", "second_username", "second_password")


def check_target_is_explicit(config: pytest.Config) -> None:
    """The target is never a fallback: an empty base URL (a missing CI secret), credentials without a
    URL, or a base URL for a run that is not the contract suite are usage errors (one line, exit 4)."""
    given = config.getoption("base_url")
    from_env = os.environ.get(ENV["base_url"])
    if not is_contract_run(config):
        if given is not None or (from_env or "").strip():
            source = "--base-url" if given is not None else ENV["base_url"]
            raise pytest.UsageError(f"{source} is for the contract suite, and this run is not one (no `contracts` among the "
                                    "paths): run `pytest contracts --base-url URL ...`; the project's own tests use their "
                                    f"own mocks (unset {ENV['base_url']} for them)")
        return
    if given is not None and not given.strip():
        raise pytest.UsageError("--base-url is empty: give the API base URL, or leave --base-url out to run against "
                                "the embedded mock")
    if given is None and from_env is not None and not from_env.strip():
        raise pytest.UsageError(f"{ENV['base_url']} is set but empty (a missing CI secret?): set it to the API base URL, "
                                "or unset it to run against the embedded mock")
    if option(config, "base_url") is None:
        given_credentials = [f"--{name.replace('_', '-')}" if config.getoption(name) else ENV[name]
                             for name in CREDENTIAL_OPTIONS if option(config, name)]
        if given_credentials:
            raise pytest.UsageError(f"credentials without a target ({', '.join(given_credentials)}) but no --base-url or "
                                    f"{ENV['base_url']}: give the base URL, or drop the credentials to run against the "
                                    "embedded mock")


def check_options(config: pytest.Config, api_spec: spec.Spec) -> None:
    """Bad options are usage errors (one line, exit code 4), found before anything starts."""
    check_target_is_explicit(config)
    env_profile = os.environ.get(PROFILE_ENV, "gate")
    if not known_profile(env_profile):
        raise pytest.UsageError(f"unknown hypothesis profile {env_profile!r} in {PROFILE_ENV}: use gate, nightly or dev")
    settings.load_profile(env_profile)
    try:
        preflight.check_options(
            base_url=option(config, "base_url"), username=option(config, "username"),
            password=option(config, "password"), second_username=option(config, "second_username"),
            second_password=option(config, "second_password"), mock_faults=config.getoption("mock_fault"),
            mock_variants=config.getoption("mock_variant"), request_timeout=config.getoption("request_timeout"),
            rate_limit=config.getoption("rate_limit"), room_prefix=config.getoption("room_prefix"),
            profile=config.getoption("hypothesis_profile", None), known_profile=known_profile, check_mock_names=check_names)
        check_room_prefix(Model(api_spec), config.getoption("room_prefix"))
    except (preflight.PreflightError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None
    window = config.getoption("wrong_password_window", 15.0)
    if not (window >= 0 and window == window):
        raise pytest.UsageError(f"--wrong-password-window must be 0 or a positive number of minutes, not {window:g}")
    max_duration = config.getoption("max_duration", None)
    if max_duration is not None and not max_duration > 0:
        raise pytest.UsageError(f"--max-duration must be a positive number of seconds, not {max_duration:g}")
    try:
        list_readbacks_per_test(config)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    stop_rule = config.getoption("stop_on_rule")
    if stop_rule and stop_rule not in rules.RULES:
        raise pytest.UsageError(f"--stop-on-rule {stop_rule!r}: not a rule id of CONTRACT.md")


def list_readbacks_per_test(config: pytest.Config, profile: str | None = None) -> int | None:
    """`--list-readbacks`: the accepted updates per test whose list item is read back (None: every one);
    by default LIST_READBACKS_GATE, and every one in the nightly profile (`profile`: the one loaded)."""
    given = config.getoption("list_readbacks", None)
    if given is None:
        return None if profile == "nightly" else LIST_READBACKS_GATE
    if str(given).strip().lower() == "all":
        return None
    try:
        count = int(given)
    except ValueError:
        count = -1
    if count < 1:
        raise ValueError(f"--list-readbacks {given!r}: a number of updates (1 or more) or 'all'")
    return count


def known_profile(name: str) -> bool:
    try:
        settings.get_profile(name)
    except InvalidArgument:
        return False
    return True
