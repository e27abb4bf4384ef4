"""Fixtures of the contract suite: the run, its logins, its rooms, and what it reads of the target."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from ..client import ConferenceClient
from ..judges import ContractViolation
from ..rooms import RoomFactory, load_codes_in_use, probe_put_style
from ..run import PutStyle, Run
from ..target import Target
from .stash import run_of


@pytest.fixture(scope="session")
def run(pytestconfig: pytest.Config) -> Run:
    """The run: target, spec and model, pins, recorder, and what it learnt of the target."""
    return run_of(pytestconfig)


@pytest.fixture(scope="session")
def target(run: Run) -> Target:
    return run.target


@pytest.fixture(scope="session")
def client(run: Run) -> ConferenceClient:
    """The primary login's client; generated access codes avoid the codes the account's rooms hold."""
    primary = run.target.client("primary")
    assert primary is not None
    load_codes_in_use(run, primary)
    return primary


@pytest.fixture(scope="session")
def second_client(run: Run, client: ConferenceClient) -> ConferenceClient:
    """A second account's client; tests that need one skip when none is configured."""
    second = run.target.client("second")
    if second is None:
        pytest.skip("no second account: give --second-username/--second-password "
                    "(or CONFERENCE_SECOND_USERNAME/CONFERENCE_SECOND_PASSWORD) to run isolation checks")
    return second


@pytest.fixture(scope="session")
def anonymous_client(run: Run) -> ConferenceClient:
    anonymous = run.target.client("anonymous")
    assert anonymous is not None
    return anonymous


@pytest.fixture(scope="session")
def did_groups(run: Run, client: ConferenceClient) -> list[str]:
    """Valid `did_group_sid` values: the primary account's DID groups, read from the target (an
    accepted `did_group_sid` outside them is a violation)."""
    groups = client.did_group_sids()
    run.did_groups = frozenset(groups)
    return groups


@pytest.fixture(scope="session")
def rooms(run: Run, client: ConferenceClient) -> Iterator[RoomFactory]:
    factory = RoomFactory(run, client)
    run.before_cleanup.append(factory.close)  # an early stop deletes the rooms before this fixture's teardown
    yield factory
    factory.close()  # no put-back of a kept room still running when the run deletes its rooms


@pytest.fixture(scope="session")
def put_style(run: Run, client: ConferenceClient, rooms: RoomFactory, did_groups: list[str]) -> PutStyle:
    """Whether the target's PUT needs the current read-only values (probed once, reported; every PUT
    the suite sends follows it). A target that accepts no PUT at all fails the PUT tests; the run
    goes on with the default style so that every other test still judges PUT answers."""
    try:
        run.put_style = probe_put_style(run, client, rooms, did_groups)
    except ContractViolation:
        run.put_style = PutStyle()
    return run.put_style


@pytest.fixture(scope="session")
def other_room(rooms: RoomFactory) -> Iterator[dict[str, Any]]:
    """Another room of the primary account, alive for the whole run (a source of real sids)."""
    with rooms.fresh(label="other") as created:
        yield created


@pytest.fixture(scope="session")
def second_account_room(run: Run, rooms: RoomFactory) -> Iterator[dict[str, Any] | None]:
    """A room of the second account, or None when no second account is configured."""
    second = run.target.client("second")
    if second is None:
        yield None
        return
    with rooms.fresh(client=second, label="second") as created:
        yield created


@pytest.fixture
def room(rooms: RoomFactory) -> Iterator[dict[str, Any]]:
    """A room for one test in the state of a freshly created one (sample values): a room kept
    between tests and put back to its creation values when a test changed it (`RoomFactory.reused`)."""
    with rooms.reused() as kept:
        yield kept
