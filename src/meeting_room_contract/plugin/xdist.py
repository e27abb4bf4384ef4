"""pytest-xdist: one run id for every worker, their observations merged into one summary, and
workers by default against a remote target.

Against `--base-url` without `-n`, the run measures the target's round trip (a few requests
without credentials) and, when answers take long enough for waiting to dominate, runs with
`REMOTE_WORKERS` workers — more than the cores: workers mostly wait for answers, and requests to
independent rooms need not wait for each other. A near target (loopback, same rack: the run is
CPU-bound) gets one worker per core. `-n 0` keeps a run serial; `-n N` picks N.
The run stays one run: one run id (room names, journal, cleanup, `--delete-leftovers` once),
`--rate-limit` is the run's (each worker gets its share), the preflight and the end-of-run sweep
happen once in the controller, and the one wrong-password probe per login is claimed across
workers (`Target.wrong_password`).

Under xdist the long tests (properties, schemathesis, the state machine) start first, in concern order,
and workers take two tests at a time (`--dist load --maxschedchunk 2` unless given): with the longest
first and small portions, no worker starts a 10-second test when the others are nearly done. Unless the
user chose a `--dist`, the queue is xdist's load scheduling with one change (`LongTestsApart`): a worker
holds at most one long test at a time, so that no long test waits behind another on one worker while
other workers run short ones (at 80 ms per answer two of them in a row were the run's critical path)."""

from __future__ import annotations

import atexit
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import execnet
import pytest
import requests
from xdist.scheduler import LoadScheduling

from .. import preflight
from ..journal import RUN_SIDE_FILES, signals_held
from ..warm_workers import WarmWorkers
from ..worker_codes import WorkerCodes
from .options import option
from .scope import is_contract_run
from .session import SIGNALLED
from .stash import OBSERVATIONS, RUN_KEY, WORKER_PARTS_KEY, run_of

REMOTE_WORKERS = 8  # workers for a remote target on a 2-core machine: most of a worker's time is waiting (started warm: cheap)
FAR_RTT_S = 0.050  # from this round trip on (another region), twice as many: waiting dwarfs a worker's CPU
MIN_WORKER_RTT_S = 0.004  # below this round trip (loopback, same rack) the run is CPU-bound: one worker per core
PROBES = 5  # the quickest counts: a busy machine delays some answers


def before_xdist_reads_its_options(config: pytest.Config) -> None:
    """Before xdist reads `-n` (`activation.pytest_cmdline_main`, contract runs only): workers by default
    for a remote target; a worker's share of --rate-limit."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        share_rate_limit(config, int(workerinput.get("workercount") or 1))
    else:
        choose_workers(config)
        workers_without_assertion_rewriting(config)


def workers_without_assertion_rewriting(config: pytest.Config) -> None:
    """xdist workers start with `--assert=plain` (in PYTEST_ADDOPTS, which they inherit): no contract test
    uses `assert`, and pytest would otherwise rewrite and compile every module of every `pytest11`
    distribution (hypothesis, schemathesis, anyio, xdist, pytest-html, this project) in every worker,
    ~1.1 CPU-s per worker start where bytecode is not cached (PYTHONDONTWRITEBYTECODE, common in CI
    images). The controller started before the plugin could say so. An explicit --assert is kept."""
    given = " ".join(str(arg) for arg in config.invocation_params.args or ())
    added = os.environ.get("PYTEST_ADDOPTS", "")
    if "--assert" in given or "--assert" in added:
        return
    os.environ["PYTEST_ADDOPTS"] = f"{added} --assert=plain".strip()


def share_rate_limit(config: pytest.Config, workers: int) -> None:
    """RateLimiter is per process: under xdist each worker keeps to 1/N of the run's --rate-limit; on a
    real target the share then grows as other workers finish (`WorkersStillTesting`, at configure)."""
    rate = config.getoption("rate_limit", 0.0)
    if rate and rate > 0 and workers > 1:
        config.stash[RUN_RATE] = rate
        config.option.rate_limit = rate / workers


class WorkersStillTesting:
    """How many of the run's workers may still send requests: all of them, less those that wrote their
    `done` file (a worker writes it once its session is over, its last request sent). A worker that
    died without one still counts: the run never goes above its rate limit."""

    def __init__(self, directory: Path, run_id: str, workers: int, fresh_for_s: float = 0.5):
        self.directory, self.run_id, self.workers, self.fresh_for_s = directory, run_id, workers, fresh_for_s
        self._count, self._fresh_until = workers, 0.0

    def __call__(self) -> int:
        now = time.monotonic()
        if now >= self._fresh_until:
            done = sum(1 for _ in self.directory.glob(f"{self.run_id}.done.*"))
            self._count, self._fresh_until = max(1, self.workers - done), now + self.fresh_for_s
        return self._count

    def done(self) -> None:
        (self.directory / f"{self.run_id}.done.{os.getpid()}").touch()


WORKERS_CHOSEN = pytest.StashKey[str]()
WARM_WANTED = pytest.StashKey[bool]()  # the run chose its workers: they start from a warm interpreter (warm_workers)
WARM = pytest.StashKey[WarmWorkers]()
SHARES_TAKEN = pytest.StashKey[dict]()  # the controller's: worker id -> its share of the codes (CodeBook.partition)
RUN_RATE = pytest.StashKey[float]()  # a worker's: the run's whole --rate-limit (its option holds its first share)
SHARERS = pytest.StashKey[WorkersStillTesting]()


def remote_workers(round_trip_s: float | None, cores: int | None = None) -> int:
    """How many workers a run against a target with this round trip gets by default (0: serial).

    A near target (loopback, same rack) answers faster than the suite computes: one worker per core
    (measured on 2 cores against the standalone mock on loopback: serial 17.7-20.7 s, 2 workers 14-17 s,
    3 workers 19.5 s); one core runs serially. A remote one: waiting dominates, more workers than cores."""
    cores = cores or usable_cores()
    if round_trip_s is None:
        return 0
    if round_trip_s < MIN_WORKER_RTT_S:
        return cores if cores > 1 else 0
    workers = max(REMOTE_WORKERS, 2 * cores)
    # measured on 2 cores (the gate, standalone mock, workers started warm): at 20 ms 6 workers 20.9 s, 8 17.6 s,
    # 10 16.4 s; at 80 ms 12 workers 35.2 s, 16 28.7 s (each warm worker ~0.1 CPU-s more at the start)
    return 2 * workers if round_trip_s >= FAR_RTT_S else workers


def usable_cores() -> int:
    """The CPUs this process may run on: its affinity (`taskset`), capped by a cgroup CPU quota (a CI
    container limited to 2 CPUs on a big host), not every CPU of the host (`os.cpu_count`)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, quota) if quota else cores)


def _cgroup_cpu_quota() -> int | None:
    """CPUs granted by a cgroup quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us`), rounded up; None: no quota."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return math.ceil(int(quota) / int(period)) if quota != "max" else None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return math.ceil(quota_us / period_us) if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def narrowed_selection(config: pytest.Config) -> bool:
    """The user picked some tests (-k, -m, a test file or id): a near target then runs serially by
    default (a few tests gain nothing from workers that take a second each to start)."""
    option = config.option
    if getattr(option, "keyword", "") or getattr(option, "markexpr", ""):
        return True
    return any("::" in str(arg) or str(arg).endswith(".py") for arg in config.args)


def choose_workers(config: pytest.Config) -> None:
    if not hasattr(config.option, "numprocesses"):
        return  # no xdist
    if config.option.numprocesses is None:
        default_workers(config)
    if config.option.numprocesses not in (None, 0) and is_contract_run(config):
        balance(config)


def default_workers(config: pytest.Config) -> None:
    if config.getoption("collectonly") or config.getoption("usepdb", False) or not is_contract_run(config):
        return
    base_url = option(config, "base_url")
    if not base_url or config.getoption("mock_fault") or config.getoption("mock_variant"):
        return
    request_timeout = float(config.getoption("request_timeout") or 5.0)
    timeout = min(5.0, request_timeout)
    # after a silent first probe the second waits all of --request-timeout, as the preflight's request would:
    # no answer to it is the preflight's line at once (a target that answers each request just within
    # --request-timeout, slow but allowed, is answered; a wait shorter than that would call it a mistake)
    try:
        round_trip = measure_round_trip(str(base_url), timeout, then=request_timeout)
    except KeyboardInterrupt as interrupt:  # Ctrl-C before the run started: it ends as interrupted, serially
        config.stash[SIGNALLED] = str(interrupt) or "SIGINT"
        return
    except SilentTarget as silence:
        raise pytest.UsageError("preflight: " + preflight.describe_error(silence.error, str(base_url),
                                                                         request_timeout)) from None
    workers = remote_workers(round_trip)
    if workers and round_trip is not None and round_trip < MIN_WORKER_RTT_S and narrowed_selection(config):
        workers = 0  # a near target and a few tests: serial
    rate = float(config.getoption("rate_limit", 0.0) or 0.0)
    limited = ""
    if workers and round_trip is not None and rate > 0:
        workers = min(workers, rate_limited_workers(rate, round_trip))
        limited = f"; --rate-limit {rate:g}/s shared by the workers still testing"
    if workers:
        config.option.numprocesses = workers
        config.stash[WARM_WANTED] = True
        measured = (f"no answer to a probe within {timeout:g} s: a cold start?" if round_trip >= timeout
                    else f"round trip {round_trip * 1000:.0f} ms")
        kind = "a near target, one per core" if round_trip < MIN_WORKER_RTT_S else "a remote target"
        config.stash[WORKERS_CHOSEN] = (f"{workers} xdist workers by default for {kind} ({measured}{limited}; "
                                        "-n 0 runs serially, -n N picks N)")


def rate_limited_workers(rate: float, round_trip_s: float) -> int:
    """Under --rate-limit more workers than the rate keeps busy only wait for their share: twice the
    requests one round trip holds (a worker sends one request per round trip), at least 2."""
    return max(2, math.ceil(2 * rate * round_trip_s))


def balance(config: pytest.Config) -> None:
    """Test durations differ by 100× (one schemathesis operation vs one edge value): unless the user
    chose, workers take two tests at a time from one queue whose long tests come first, at most one
    long test per worker (`long_tests_apart`)."""
    if getattr(config.option, "dist", "no") == "no":
        config.option.dist = "load"
        config.stash[BALANCED] = True
        if getattr(config.option, "maxschedchunk", None) is None:
            config.option.maxschedchunk = 2


BALANCED = pytest.StashKey[bool]()  # the run chose `--dist load` itself (the user chose no --dist)


class LongTestsApart(LoadScheduling):
    """xdist's load scheduling, except that a worker is never sent a long test while it holds one
    (running or queued): it gets the next short tests instead, and the long test goes to the next
    worker that holds none. A worker is never sent fewer tests than xdist would send it: when too few
    short tests are left, the next long ones fill its share (a worker runs its last test only once it
    holds the next one, or is told to stop: one held alone would wait forever)."""

    def __init__(self, config: pytest.Config, log: Any, is_long: Callable[[str], bool]):
        super().__init__(config, log)
        self._is_long = is_long
        self._long: dict[int, bool] = {}

    def _long_test(self, index: int) -> bool:
        if index not in self._long:
            assert self.collection is not None
            self._long[index] = bool(self._is_long(self.collection[index]))
        return self._long[index]

    def _send_tests(self, node: Any, num: int) -> None:
        holds_long = any(self._long_test(index) for index in self.node2pending[node])
        picked: list[int] = []
        for index in self.pending:
            if len(picked) >= num:
                break
            if self._long_test(index):
                if holds_long:
                    continue
                holds_long = True
            picked.append(index)
        if len(picked) < num:  # not enough short tests left: the next ones, as xdist would (never fewer than it sends)
            chosen = set(picked)
            picked += [index for index in self.pending if index not in chosen][:num - len(picked)]
        if not picked:
            return
        chosen = set(picked)
        self.pending[:] = [index for index in self.pending if index not in chosen]
        self.node2pending[node].extend(picked)
        node.send_runtest_some(picked)


def long_tests_apart(config: pytest.Config, log: Any, is_long: Callable[[str], bool]) -> LoadScheduling | None:
    """The scheduler of a run that chose `--dist load` itself (None: the user chose; xdist's own)."""
    return LongTestsApart(config, log, is_long) if config.stash.get(BALANCED, False) else None


class SilentTarget(Exception):
    """Two probes in a row got no answer within their timeout (`error`: the last one's)."""

    def __init__(self, error: requests.Timeout):
        super().__init__(str(error))
        self.error = error


def measure_round_trip(base_url: str, timeout: float, then: float | None = None) -> float | None:
    """The quickest of a few round trips to the target (GETs without credentials: no login is tried,
    nothing changes); None when it does not answer (the preflight then says why in one line).
    After a probe that got no answer within `timeout`, the next one waits `then` (default `timeout`);
    SilentTarget when that one gets none either."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    quickest = None
    timed_out = False
    with requests.Session() as session:
        for _ in range(PROBES):
            started = time.monotonic()
            try:
                session.get(base_url.rstrip("/") + "/meeting_rooms", allow_redirects=False,
                            timeout=timeout if not timed_out or then is None else then)
            except requests.Timeout as error:
                # no answer within the timeout: a cold start (the next probe meets a warm target and measures
                # it: a loopback target that woke up slowly is still near), or a silent server (one more wait
                # at most: a user's mistake is reported in seconds)
                if quickest is not None:
                    return quickest
                if timed_out:
                    raise SilentTarget(error) from None
                timed_out = True
                continue
            except requests.RequestException:
                return None
            took = time.monotonic() - started
            quickest = took if quickest is None else min(quickest, took)
    return quickest


def pytest_configure(config: pytest.Config) -> None:
    """A worker of several on a real target: notes the codes it sends, and reads the others' (`worker_codes`).
    The controller of workers it chose itself starts them from a warm interpreter."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        start_workers_warm(config)
        return
    if int(workerinput.get("workercount") or 1) < 2:
        return
    run = run_of(config)
    journal = run.target.registry.cleanup_journal
    if journal is None:  # the embedded mock: every worker has its own
        return
    share = workerinput.get("conference_share")  # disjoint codes: see CodeBook.partition
    if isinstance(share, int) and 0 <= share < int(workerinput["workercount"]):
        run.codes.partition = (share, int(workerinput["workercount"]))
        run.target.registry.worker_share = run.codes.partition  # names no other worker builds
    run.target.registry.quiet_path = journal.path.parent / f"{run.target.registry.run_id}.quiet"  # registry.quiet
    # the names this worker POSTs: the controller's end-of-run sweep deletes a room holding one (a POST
    # whose answer did not name the room it created) as it does for its own names
    run.target.registry.shared_names_path = journal.path.parent / f"{run.target.registry.run_id}.names.{os.getpid()}"
    codes = WorkerCodes(journal.path.parent, run.target.registry.run_id, run.model)
    run.target.registry.on_send = codes.sent
    run.worker_codes = codes  # type: ignore[attr-defined]
    if RUN_RATE in config.stash:  # the run's rate limit, shared by the workers still testing
        sharers = WorkersStillTesting(journal.path.parent, run.target.registry.run_id, int(workerinput["workercount"]))
        run.target.limiter.per_second, run.target.limiter.sharers = config.stash[RUN_RATE], sharers
        config.stash[SHARERS] = sharers


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> Any:
    """A Ctrl-C at a terminal reaches every process of the run: a worker that xdist is still starting
    dies of it, and xdist's start of the workers fails (EOFError). After an interrupt that failure is
    the interrupt's: the session goes on to be ended by it (its cleanup and summary, R9-4), not by an
    internal error."""
    try:
        return (yield)
    except (EOFError, OSError, execnet.RemoteError):
        started = getattr(session.config.pluginmanager.getplugin("dsession"), "nodemanager", None) is not None
        if not started or SIGNALLED not in session.config.stash:  # not xdist's start, or no interrupt: not ours
            raise
        return None


def start_workers_warm(config: pytest.Config) -> None:
    """Workers the run chose itself (`default_workers`) start forked from a warm interpreter
    (`warm_workers`: each skips ~0.6 CPU-s of imports, and a remote target's many workers no longer
    queue for two cores at the start). A user's `-n N` or `--tx` gets xdist's usual start; so does
    a machine where the server cannot run."""
    tx = list(getattr(config.option, "tx", None) or [])
    if not config.stash.get(WARM_WANTED, False) or not tx or any(spec != "popen" for spec in tx):
        return
    warm = WarmWorkers.start()
    if warm is None:
        return
    if "//" in warm.python():  # xdist's spec syntax: no such path can be given
        warm.stop()
        return
    config.option.tx = [f"popen//python={warm.python()}"] * len(tx)
    config.stash[WARM] = warm
    if WORKERS_CHOSEN in config.stash:
        config.stash[WORKERS_CHOSEN] += "; started from a warm interpreter"


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's files next to its journal go when the whole run ends (the controller, after every
    worker): a worker that finished first still explains its codes to the others until then."""
    if hasattr(config, "workerinput"):
        if SHARERS in config.stash:  # its last request is sent: the others' shares of the rate limit grow
            config.stash[SHARERS].done()
        atexit.register(exit_without_teardown)
        return
    with signals_held(redeliver=False):  # the run is over: a Ctrl-C now cuts nothing short
        if RUN_KEY in config.stash:
            registry = run_of(config).target.registry
            journal = registry.cleanup_journal
            for pattern in RUN_SIDE_FILES if journal is not None else ():
                for path in journal.path.parent.glob(pattern.format(run=registry.run_id)):
                    path.unlink(missing_ok=True)
        warm = config.stash.get(WARM, None)
        if warm is not None:
            del config.stash[WARM]
            warm.stop()


def exit_without_teardown() -> None:
    """A worker's last act, once its session is over and xdist has its results: every other exit
    handler runs, the output is flushed, and the process ends without tearing down its modules and
    objects (0.3-0.5 s of CPU per worker, and the controller waits for every worker to end before
    its end-of-run sweep). As multiprocessing ends its forked children."""
    run_the_others = getattr(atexit, "_run_exitfuncs", None)
    if run_the_others is None:  # pragma: no cover - not CPython: the usual teardown
        return
    atexit.unregister(exit_without_teardown)
    run_the_others()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: nothing more can be written anyway
            pass
    os._exit(0)


def pytest_report_header(config: pytest.Config) -> list[str]:
    chosen = config.stash.get(WORKERS_CHOSEN, None)
    return [f"contract concurrency: {chosen}"] if chosen else []


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Workers share the controller's run id (room names, leftovers, cleanup) and its checked spec; each
    gets a share of the codes and names no other live worker has (a worker xdist starts in place of a
    crashed one, `gw8` of 8, takes the free share: its id is no share)."""
    run = run_of(node.config)
    node.workerinput["conference_run_id"] = run.target.registry.run_id
    node.workerinput["conference_spec_sha256"] = run.spec.sha256
    shares = node.config.stash.setdefault(SHARES_TAKEN, {})
    count = int(node.workerinput.get("workercount") or 1)
    free = [share for share in range(count) if share not in shares.values()]
    if free:
        shares[node.gateway.id] = free[0]
        node.workerinput["conference_share"] = free[0]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Collect a finished worker's observations (sent through xdist's own channel); its share of the
    codes is free again (for a worker started in its place)."""
    node.config.stash.setdefault(SHARES_TAKEN, {}).pop(getattr(getattr(node, "gateway", None), "id", None), None)
    part = getattr(node, "workeroutput", {}).get(OBSERVATIONS)
    if part is not None:
        node.config.stash.setdefault(WORKER_PARTS_KEY, []).append(part)
