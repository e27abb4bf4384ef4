"""The plugin acts only in contract runs: its hooks are registered when the run collects `contracts/`
(or is asked to with `--contract-run`), and in no other pytest run of the environment.

The package is a `pytest11` entry point, so pytest loads it in every run of the virtualenv it is
installed in. In any other run (an unrelated project, the project's own `pytest tests`) it only adds
its options: it writes no report, removes none, reads and validates no spec, sets no environment
variable and loads no hypothesis profile. An explicit `--base-url` there is a usage error (the one
option that would otherwise be silently ignored while the user meant a contract run)."""

from __future__ import annotations

from typing import Any

import pytest

from .scope import is_contract_run

ACTIVE = pytest.StashKey[bool]()
MODULES = ("status", "session", "xdist", "fixtures", "reporting", "junit")  # registered in this order (their configure hooks too)


def active(config: pytest.Config) -> bool:
    """Whether the plugin acts in this run (decided once, before xdist reads its options)."""
    found = config.stash.get(ACTIVE, None)
    if found is None:
        found = config.stash[ACTIVE] = is_contract_run(config)
    return found


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> Any:
    """Before xdist reads `-n`: the workers a contract run gets by default (`xdist.py`)."""
    if active(config):
        from . import xdist

        xdist.before_xdist_reads_its_options(config)
    return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """A contract run: the plugin's modules are registered now (pytest_configure is historic: each one's
    configure hook runs as it is registered, before pytest's junitxml and pytest-html read their paths)."""
    if not active(config):
        if config.getoption("base_url", None) is not None:
            raise pytest.UsageError("--base-url is for the contract suite, and this run is not one (no `contracts` among "
                                    "the paths): run `pytest contracts --base-url URL ...` (or add --contract-run)")
        return
    import importlib

    for name in MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        if not config.pluginmanager.is_registered(module):
            config.pluginmanager.register(module, f"meeting_room_contract.plugin.{name}")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's signal handlers are given back, also after a usage error in the session's configure."""
    if config.stash.get(ACTIVE, False):
        from . import session

        session.give_back_signal_handlers(config)
