"""Stopping a run's xdist workers at once when the run is interrupted, and hearing them out.

xdist on its own stops reading its workers' events when the controller is interrupted and then
tears them down (a worker still in a test is interrupted after 5 s and killed after 10 s): the
tests they finished, the violations they found and their parts of the summary were lost, and the
run took 11-16 s to end. Here the controller tells every worker at the signal, then reads their
last events itself until each has finished (bounded)."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from typing import Any

import pytest

LAST_WORDS = {"testreport", "logstart", "logfinish", "collectreport", "warning_recorded", "warning_captured"}


def _dsession(config: pytest.Config) -> Any:
    return config.pluginmanager.getplugin("dsession")


def start_one_worker_only(config: pytest.Config) -> None:
    """An interrupt before xdist started its workers: it starts one, not the run's 6 or 12 (each costs
    1-1.5 s of CPU to start, and the run ends before the first test anyway). Called before xdist's
    `pytest_sessionstart` (trylast) reads the worker specs (`--tx`, which `-n N` fills)."""
    specs = getattr(config.option, "tx", None)
    if _dsession(config) is not None and isinstance(specs, list) and len(specs) > 1:
        config.option.tx = specs[:1]
        config.option.numprocesses = 1  # what the summary's `workers` then says


def worker_pids(config: pytest.Config) -> list[int]:
    """The process ids of the workers still up (xdist starts each with execnet's popen)."""
    dsession = _dsession(config)
    pids = []
    for node in list(getattr(dsession, "_active_nodes", None) or ()):
        pid = getattr(getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None), "pid", None)
        if isinstance(pid, int):
            pids.append(pid)
    return pids


def interrupt_the_workers(config: pytest.Config) -> int:
    """Tell every worker to stop now (SIGTERM, which the suite handles like Ctrl-C in every process):
    each ends its current test, deletes its rooms and reports, instead of testing on until xdist's
    teardown interrupts it (5 s) or kills it (10 s). Returns how many were told."""
    told = 0
    for pid in worker_pids(config):
        with contextlib.suppress(OSError):  # already gone
            os.kill(pid, signal.SIGTERM)
            told += 1
    return told


def hear_the_workers_out(config: pytest.Config, seconds: float) -> None:
    """After an interrupt xdist has stopped reading its workers' events: read them here until every
    worker has finished (or `seconds` have passed), so that the tests they ended, the violations they
    found and their parts of the summary are not lost. A worker's end is not treated as a crash (xdist
    would start a new worker)."""
    dsession = _dsession(config)
    events = getattr(dsession, "queue", None)
    waiting = set(getattr(dsession, "_active_nodes", None) or ())
    deadline = time.monotonic() + seconds
    while waiting and events is not None and time.monotonic() < deadline:
        try:
            name, kwargs = events.get(timeout=0.1)
        except queue.Empty:
            continue
        node = kwargs.get("node")
        if name == "workerfinished":
            config.hook.pytest_testnodedown(node=node, error=None)
            waiting.discard(node)
        elif name in ("errordown", "internal_error"):
            waiting.discard(node)
        elif name in LAST_WORDS:
            try:
                getattr(dsession, f"worker_{name}")(**kwargs)
            except Exception as error:  # not silent, and no reason to stop listening: the sweep must still run
                _say(config, f"WARNING: a worker's last {name} could not be shown ({type(error).__name__}: "
                             f"{str(error)[:200]}); its violations are in the summary")
    for node in waiting | set(getattr(dsession, "_active_nodes", None) or ()):
        getattr(dsession, "_active_nodes", set()).discard(node)


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line, yellow=True)
