"""The private hypothesis hooks the plugin needs are there on the pinned hypothesis, and their
absence fails loudly (a clear message), never silently (issue 15, item 3)."""

from __future__ import annotations

import importlib.metadata

import pytest
from hypothesis.internal.conjecture import engine, providers

from meeting_room_contract.plugin import hypothesis_limits


def test_the_hooks_are_present_on_the_pinned_hypothesis():
    pinned = next(req for req in importlib.metadata.requires("meeting-room-contract") if req.startswith("hypothesis=="))
    assert importlib.metadata.version("hypothesis") == pinned.split("==")[1]
    hypothesis_limits.assert_hooks_present()
    assert set(hypothesis_limits.PRIVATE_HOOKS) == {"providers._get_local_constants", "engine.MAX_SHRINKING_SECONDS",
                                                    "engine.report"}


@pytest.mark.parametrize("hook", sorted(hypothesis_limits.PRIVATE_HOOKS))
def test_a_missing_hook_fails_loudly(monkeypatch, hook):
    module, attribute = hypothesis_limits.PRIVATE_HOOKS[hook]
    monkeypatch.delattr(module, attribute)
    with pytest.raises(RuntimeError) as error:
        hypothesis_limits.assert_hooks_present()
    message = str(error.value)
    assert hook in message and "hypothesis moved" in message and "plugin/hypothesis_limits.py" in message


@pytest.mark.parametrize("use", [hypothesis_limits.no_local_constants, hypothesis_limits.bound_gate_shrinking])
def test_the_hooks_users_check_first(monkeypatch, use):
    """Neither patch goes ahead (silently doing nothing) once a hook moved."""
    monkeypatch.delattr(engine, "MAX_SHRINKING_SECONDS")
    before = providers._get_local_constants
    with pytest.raises(RuntimeError, match="hypothesis moved"):
        use()
    assert providers._get_local_constants is before


def test_the_hooks_are_used():
    """The plugin took the project's literals out of hypothesis's pool (the hook does something)."""
    assert not providers._get_local_constants().strings
