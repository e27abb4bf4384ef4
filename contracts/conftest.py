"""What every contract test needs before it sends anything, and the order the concerns run in."""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any

import pytest

from meeting_room_contract.plugin import xdist as plugin_xdist
from meeting_room_contract.plugin.stash import RUN_KEY
from meeting_room_contract import strategies, transitions
from meeting_room_contract.run import PutStyle, Run


@pytest.fixture(scope="session", autouse=True)
def _put_style_probed(put_style: PutStyle) -> None:
    """Every PUT the suite sends carries the read-only fields if (and only if) the target requires them."""


@pytest.fixture(autouse=True)
def _codes_in_use_snapshot(run: Run) -> None:
    """Generators avoid the codes known to be in use before the test (stable within a test)."""
    run.codes.snapshot()


# The most specific checks first, so that a failing gate's first failure names the broken rule
# (a PATCH bug shows in test_patch before it shows as a lost update in test_concurrency).
CONCERN_ORDER = ["test_patch", "test_put", "test_transitions", "test_read_only", "test_uniqueness", "test_negative", "test_round_trip",
                 "test_edge_values", "test_request_forms", "test_shape", "test_auth", "test_isolation", "test_concurrency", "test_stateful"]


# Tests that run many examples (hypothesis properties, schemathesis, the state machine): under xdist
# they start first, so that no worker begins a long test when the others are nearly done.
LONG_RUNNING_MODULES = ("test_shape", "test_stateful")


def runs_long(nodeid: str, rootpath: Path) -> bool:
    """A test of many examples, known by its node id alone (the xdist controller, which schedules the
    tests, collects none): a test of LONG_RUNNING_MODULES, or a function its module decorates with
    hypothesis's `@given`."""
    path, _, rest = nodeid.partition("::")
    function = rest.split("[", 1)[0].split("::")[-1]
    return Path(path).stem in LONG_RUNNING_MODULES or function in _given_functions(rootpath / path)


@functools.lru_cache(maxsize=None)
def _given_functions(path: Path) -> frozenset[str]:
    """The names of a module's functions decorated with `@given` (or `@<module>.given`), read from its source."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    given = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
                if name == "given":
                    given.add(node.name)
    return frozenset(given)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Workers hold at most one long test at a time (unless the user chose a --dist)."""
    return plugin_xdist.long_tests_apart(config, log, lambda nodeid: runs_long(nodeid, config.rootpath))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def concern(item: pytest.Item) -> int:
        name = item.path.stem
        return CONCERN_ORDER.index(name) if name in CONCERN_ORDER else len(CONCERN_ORDER)

    items.sort(key=concern)  # stable: the order inside a module is kept
    if int(getattr(config, "workerinput", {}).get("workercount") or 1) > 1:  # the same order on every worker
        items.sort(key=lambda item: not runs_long(item.nodeid, config.rootpath))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parameters that come from the run's spec (collected after the plugin chose it)."""
    if "edge_case" in metafunc.fixturenames:  # the edge corpus of the run's spec (test_edge_values.py)
        corpus = strategies.edge_corpus(metafunc.config.stash[RUN_KEY])
        metafunc.parametrize("edge_case", corpus, ids=[case.id for case in corpus])
    if "transition_case" in metafunc.fixturenames:  # the transition table of the run's spec (test_transitions.py)
        table = transitions.table(metafunc.config.stash[RUN_KEY])
        metafunc.parametrize("transition_case", table, ids=[case.id for case in table])
    if "missing_put_field" in metafunc.fixturenames:
        model = metafunc.config.stash[RUN_KEY].model
        metafunc.parametrize("missing_put_field", model.PUT_REQUIRED_FIELDS)

