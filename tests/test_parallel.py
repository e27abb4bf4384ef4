"""`-n 2`: one run id for all workers, leftovers deleted once, observations and room counts merged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import requests

from meeting_room_contract.mock import MeetingRoomMock
from meeting_room_contract.selfcheck import PROJECT_ROOT

USER, PASSWORD = "conference_user_123", "qwerty123"


def test_parallel_run_with_delete_leftovers(tmp_path):
    with MeetingRoomMock() as mock:
        created_names: list[str] = []
        mock.on_created(lambda room: created_names.append(room["name"]))  # count what the run creates, server side
        bystander = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                  json={"name": "a colleague's room"}).json()
        leftover = requests.post(mock.base_url + "/meeting_rooms", auth=(USER, PASSWORD), timeout=5,
                                 json={"name": "contract-test-20200101000000-abcdef room 1"}).json()
        created_names.clear()
        command = [sys.executable, "-m", "pytest", "contracts", "-n", "2", "-p", "no:cacheprovider",
                   "--delete-leftovers", "-k", "auth or read_only", "--no-contract-strict", "--base-url", mock.base_url,
                   "--username", USER, "--password", PASSWORD, "--report-dir", str(tmp_path)]
        env = {key: value for key, value in os.environ.items() if not key.startswith("CONFERENCE_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode: workers start in 2 s instead of 4 s
        completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output[-4000:]
        remaining = set(mock.rooms())
    # Our rooms are gone; the bystander stays, and so does the prefixed room that no journal knows: a name is no
    # proof of who created a room (only journalled sids of dead runs are deleted), so it is reported, never deleted.
    assert remaining == {bystander["meeting_room_sid"], leftover["meeting_room_sid"]}
    assert "in no journal here" in output and leftover["meeting_room_sid"] in output
    run_ids = {re.match(r"contract-test-(\S+) ", name).group(1) for name in created_names}
    assert len(run_ids) == 1, run_ids  # controller and both workers share one run id
    assert "contract observations" in output and "properties_on_patch" in output
    summary = json.loads((tmp_path / "contract-summary.json").read_text())
    assert summary["run_id"] in run_ids
    preflight_rooms = [name for name in created_names if name.endswith(" preflight")]
    assert len(preflight_rooms) == 1  # once, in the controller
    # counted across workers, from their journals: every room the run created, the preflight's included
    assert summary["rooms_created"] == len(created_names)
    assert summary["rooms_left_behind"] == [] and summary["requests_sent"] > 0
    assert any(row["rule"] == "auth.required" and row["passed"] > 0 for row in summary["checks"])
    assert not list(tmp_path.glob(".parts"))


def test_a_worker_ends_without_teardown_after_the_other_exit_handlers(tmp_path):
    """A worker's exit skips the teardown of its modules and objects (the controller waits for every
    worker to end), but every other exit handler still runs and its output is flushed."""
    marker = tmp_path / "handler-ran"
    script = f"""
import atexit
from meeting_room_contract.plugin.xdist import exit_without_teardown
atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))
atexit.register(exit_without_teardown)
class TornDown:
    def __del__(self):
        print(" torn down")
kept = TornDown()
print("last words", end="")
"""
    completed = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "last words"  # flushed; no teardown of `kept`
    assert marker.read_text() == "ran"


def test_a_workers_last_report_that_cannot_be_shown_is_said_and_the_others_are_still_read():
    """After an interrupt the controller reads its workers' last events itself: a report that fails to
    show is said in one line (not swallowed), and the workers' parts are still collected."""
    from queue import Queue
    from types import SimpleNamespace

    from meeting_room_contract.plugin import stopping

    lines, down = [], []
    reporter = SimpleNamespace(write_line=lambda line, **markup: lines.append(line))
    node = object()

    class DSession:
        _active_nodes = {node}
        queue: Queue = Queue()

        def worker_testreport(self, node, rep):
            raise ValueError("unserialisable")

    dsession = DSession()
    dsession.queue.put(("testreport", {"node": node, "rep": "a failed report"}))
    dsession.queue.put(("workerfinished", {"node": node}))
    config = SimpleNamespace(
        pluginmanager=SimpleNamespace(getplugin=lambda name: dsession, get_plugin=lambda name: reporter),
        hook=SimpleNamespace(pytest_testnodedown=lambda node, error: down.append(node)))
    stopping.hear_the_workers_out(config, 5)
    assert down == [node] and not DSession._active_nodes
    assert len(lines) == 1 and "could not be shown (ValueError: unserialisable)" in lines[0]


def test_xdist_failing_to_start_a_worker_an_interrupt_killed_ends_as_the_interrupt():
    """R9-4: a Ctrl-C at a terminal reaches the workers xdist is still starting; one dies of it and
    xdist's start fails (EOFError). After an interrupt the session goes on to be ended by it (its
    cleanup and summary), not by an internal error; without an interrupt, or outside xdist's start,
    the error is not the suite's to hide."""
    from types import SimpleNamespace

    import pytest

    from meeting_room_contract.plugin import xdist as plugin_xdist
    from meeting_room_contract.plugin.session import SIGNALLED

    def start(interrupted: bool, xdist_started: bool) -> None:
        config = SimpleNamespace(stash=pytest.Stash(), pluginmanager=SimpleNamespace(
            getplugin=lambda name: SimpleNamespace(nodemanager=object() if xdist_started else None)))
        if interrupted:
            config.stash[SIGNALLED] = "SIGINT"
        wrapper = plugin_xdist.pytest_sessionstart(SimpleNamespace(config=config))
        next(wrapper)
        try:
            wrapper.throw(EOFError("expected 1 bytes, got 0"))
        except StopIteration:
            return

    start(interrupted=True, xdist_started=True)  # swallowed
    for interrupted, xdist_started in ((False, True), (True, False)):
        with pytest.raises(EOFError):
            start(interrupted, xdist_started)


def test_an_interrupt_before_the_workers_start_starts_only_one():
    """R10-1: after an interrupt in the preflight the run ends before its first test, so xdist starts one
    worker, not the 6 or 12 that take 1-1.5 s of CPU each (with a kill 10 s after the signal, the run
    was killed while its workers started); a serial run is left alone."""
    from types import SimpleNamespace

    from meeting_room_contract.plugin import stopping

    def config(specs, dsession=True):
        return SimpleNamespace(option=SimpleNamespace(tx=specs, numprocesses=len(specs)),
                               pluginmanager=SimpleNamespace(getplugin=lambda name: object() if dsession else None))

    twelve = config(["popen"] * 12)
    stopping.start_one_worker_only(twelve)
    assert twelve.option.tx == ["popen"] and twelve.option.numprocesses == 1  # the summary says 1 worker
    serial = config([], dsession=False)
    stopping.start_one_worker_only(serial)
    assert serial.option.tx == []


class _Worker:
    """A stand-in for xdist's WorkerController: remembers the tests it was sent."""

    def __init__(self, name: str):
        from types import SimpleNamespace

        self.name, self.sent, self.shutting_down = name, [], False
        self.gateway = SimpleNamespace(id=name)

    def send_runtest_some(self, indices):
        self.sent.extend(indices)

    def shutdown(self):
        self.shutting_down = True


def _scheduler(collection, is_long, workers=3):
    from types import SimpleNamespace

    from meeting_room_contract.plugin.xdist import LongTestsApart

    options = {"tx": [f"{workers}*popen"], "maxschedchunk": 2}
    config = SimpleNamespace(getvalue=options.get, getoption=options.get)
    scheduler = LongTestsApart(config, None, is_long)
    nodes = [_Worker(f"gw{n}") for n in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    return scheduler, nodes


def _run_to_the_end(scheduler, nodes, collection):
    """Play xdist's workers: a worker runs its first test only while it holds the next one too, or once
    it was told to stop. Returns the order each worker ran its tests in; fails if no worker can go on
    while tests are left (a hang)."""
    ran = {node.name: [] for node in nodes}
    while any(scheduler.node2pending.values()) or scheduler.pending:
        runnable = [node for node in nodes
                    if len(scheduler.node2pending[node]) >= 2 or (scheduler.node2pending[node] and node.shutting_down)]
        assert runnable, f"hang: {[[collection[i] for i in scheduler.node2pending[n]] for n in nodes]}"
        for node in runnable:
            index = scheduler.node2pending[node][0]
            ran[node.name].append(collection[index])
            scheduler.mark_test_complete(node, index, duration=0.01)
    assert sorted(i for node in nodes for i in node.sent) == list(range(len(collection)))  # each sent once
    return ran


def _is_long(nodeid):
    return nodeid.startswith("long")


def test_a_worker_never_holds_two_long_tests_while_short_ones_are_left():
    """The long tests (first in the queue) start on different workers, and a worker that holds a long
    test gets short ones until it finished it; every test runs once, and no worker waits forever."""
    collection = [f"long{n}" for n in range(5)] + [f"short{n}" for n in range(40)]
    scheduler, nodes = _scheduler(collection, _is_long)
    assert [[collection[i] for i in node.sent] for node in nodes] == [["long0", "short0"], ["long1", "short1"],
                                                                        ["long2", "short2"]]
    ran = _run_to_the_end(scheduler, nodes, collection)
    for tests in ran.values():  # a worker's second long test comes after short ones
        longs = [n for n, test in enumerate(tests) if _is_long(test)]
        assert all(later - earlier > 1 for earlier, later in zip(longs, longs[1:])), tests


def test_with_too_few_short_tests_a_worker_gets_its_share_of_long_ones():
    """Only long tests (`pytest contracts/test_shape.py -n 2`), or fewer short tests than workers: a worker
    is never sent fewer tests than xdist would send it, so none waits alone with one test (a hang)."""
    for longs, shorts, workers in ((4, 0, 2), (7, 0, 2), (14, 3, 4), (3, 1, 3), (2, 0, 2)):
        collection = [f"long{n}" for n in range(longs)] + [f"short{n}" for n in range(shorts)]
        scheduler, nodes = _scheduler(collection, _is_long, workers=workers)
        ran = _run_to_the_end(scheduler, nodes, collection)
        assert sum(len(tests) for tests in ran.values()) == len(collection)


def test_the_controller_knows_the_long_tests_by_their_node_ids():
    """`runs_long(nodeid)` (all the xdist controller has) says what the tests' functions say: a test of
    a long module, or one hypothesis runs (`@given`)."""
    import importlib
    import importlib.util

    sys.path.insert(0, str(PROJECT_ROOT / "contracts"))
    try:
        spec = importlib.util.spec_from_file_location("contracts_conftest", PROJECT_ROOT / "contracts" / "conftest.py")
        contracts_conftest = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(contracts_conftest)
        for path in sorted((PROJECT_ROOT / "contracts").glob("test_*.py")):
            module = importlib.import_module(path.stem)
            for name in dir(module):
                function = getattr(module, name)
                if not name.startswith("test_") or not callable(function):
                    continue
                expected = path.stem in contracts_conftest.LONG_RUNNING_MODULES or hasattr(function, "hypothesis")
                nodeid = f"contracts/{path.name}::{name}[x]"
                assert contracts_conftest.runs_long(nodeid, PROJECT_ROOT) is expected, nodeid
    finally:
        sys.path.remove(str(PROJECT_ROOT / "contracts"))


def test_a_worker_started_in_place_of_a_crashed_one_takes_its_share_of_the_codes():
    """xdist names the worker it starts in place of a crashed one `gw8` (of 8): its share of the codes
    and names is the free one, never `8 of 8` (no code is in it: the worker drew codes for ever) and
    never a live worker's."""
    from types import SimpleNamespace

    import pytest

    from meeting_room_contract import strategies
    from meeting_room_contract.plugin import xdist as plugin_xdist
    from meeting_room_contract.plugin.stash import RUN_KEY
    from meeting_room_contract.run import CodeBook

    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[RUN_KEY] = SimpleNamespace(target=SimpleNamespace(registry=SimpleNamespace(run_id="t0run-abc")),
                                            spec=SimpleNamespace(sha256="0" * 64))

    def node(name: str) -> SimpleNamespace:
        return SimpleNamespace(config=config, gateway=SimpleNamespace(id=name), workerinput={"workercount": 3})

    nodes = [node(f"gw{i}") for i in range(3)]
    for each in nodes:
        plugin_xdist.pytest_configure_node(each)
    assert [each.workerinput["conference_share"] for each in nodes] == [0, 1, 2]
    plugin_xdist.pytest_testnodedown(nodes[1], "crashed")
    replacement = node("gw3")
    plugin_xdist.pytest_configure_node(replacement)
    assert replacement.workerinput["conference_share"] == 1
    with pytest.raises(ValueError, match="share"):  # an impossible share ends the draw with an error, never a spin
        strategies.fresh_value(r"^\d{6}$", CodeBook(partition=(8, 8)).in_share)


def test_a_ctrl_c_while_the_round_trip_is_measured_ends_the_run_as_interrupted(monkeypatch):
    """A Ctrl-C during the few GETs that time the target (before pytest's session exists): no traceback;
    the run goes on serially and ends as interrupted before its preflight (nothing is created)."""
    from types import SimpleNamespace

    import pytest

    from meeting_room_contract.plugin import xdist as plugin_xdist
    from meeting_room_contract.plugin.session import SIGNALLED

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("SIGINT")

    monkeypatch.setattr(plugin_xdist, "measure_round_trip", interrupted)
    options = {"collectonly": False, "usepdb": False, "base_url": "https://staging.invalid/conference/v2",
               "mock_fault": None, "mock_variant": None, "request_timeout": 5.0, "rate_limit": 0.0}
    config = SimpleNamespace(stash=pytest.Stash(), option=SimpleNamespace(numprocesses=None, contract_run=True),
                             args=["contracts"], getoption=lambda name, default=None: options.get(name, default))
    plugin_xdist.default_workers(config)
    assert config.stash[SIGNALLED] == "SIGINT" and config.option.numprocesses is None
