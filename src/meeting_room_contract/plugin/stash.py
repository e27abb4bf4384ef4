"""Where the plugin keeps the run and its outputs on the pytest config (stash keys), for every plugin module."""

from __future__ import annotations

import pytest

from ..run import Run

RUN_KEY = pytest.StashKey[Run]()
REPORT_DIR_KEY = pytest.StashKey["str | None"]()
SUMMARY_KEY = pytest.StashKey[dict]()
WORKER_PARTS_KEY = pytest.StashKey[list]()
REPORT_KEY = pytest.StashKey[tuple]()  # (document, contract-report.html path) once written
STARTED_KEY = pytest.StashKey[float]()
# the controller's (the serial run's) failed tests in the order their reports arrived: the run's one reading order
ARRIVAL_KEY = pytest.StashKey[list]()
HEADLINES_KEY = pytest.StashKey[dict]()  # nodeid -> the one-line reason of its first failed report
OBSERVATIONS = "conference_observations"  # the xdist workeroutput key of a worker's part of the summary


def run_of(config: pytest.Config) -> Run:
    return config.stash[RUN_KEY]
