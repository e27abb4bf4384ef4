"""pytest-xdist: one run id for every worker, their observations merged into one summary.

Tests keep the concern order of `contracts/conftest.py` under xdist too (a red run's first failure
names the broken rule)."""

from __future__ import annotations

from typing import Any

import pytest
from .stash import OBSERVATIONS, WORKER_PARTS_KEY, run_of


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Workers share the controller's run id (room names, leftovers, cleanup)."""
    node.workerinput["conference_run_id"] = run_of(node.config).target.registry.run_id


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Collect a finished worker's observations (sent through xdist's own channel)."""
    part = getattr(node, "workeroutput", {}).get(OBSERVATIONS)
    if part is not None:
        node.config.stash.setdefault(WORKER_PARTS_KEY, []).append(part)
