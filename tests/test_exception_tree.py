"""What the plugin finds inside a failure: group members, causes and contexts, each once."""

from __future__ import annotations

from meeting_room_contract.judges import ContractViolation
from meeting_room_contract.plugin.exception_tree import chained, group_leaves
from meeting_room_contract.plugin.reporting import _inner_errors, _inner_violations, violations


def _raised_from(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


def test_group_leaves_flatten_nested_groups_and_keep_a_plain_error():
    a, b, c = ValueError("a"), KeyError("b"), TypeError("c")
    assert group_leaves(ExceptionGroup("outer", [a, ExceptionGroup("inner", [b, c])])) == [a, b, c]
    assert group_leaves(a) == [a]


def test_a_failure_is_violations_only_when_every_leaf_is_one():
    one, two = ContractViolation("patch.partial_update", "x"), ContractViolation("put.full_replacement", "y")
    assert violations(ExceptionGroup("g", [one, ExceptionGroup("h", [two])])) == [one, two]
    assert violations(ExceptionGroup("g", [one, ValueError("not a violation")])) is None
    assert violations(ValueError("plain")) is None


def test_chained_reaches_causes_and_contexts_once_even_in_a_cycle():
    first, second = ValueError("first"), KeyError("second")
    second.__context__ = first
    first.__context__ = second  # a cycle: walked once
    assert list(chained(second)) == [second, first]


def test_violations_behind_a_replay_error_are_found_and_the_cause_only_when_the_group_has_none():
    seen = ContractViolation("patch.partial_update", "seen before")
    behind = ContractViolation("put.full_replacement", "raised while handling")
    group = _raised_from(ExceptionGroup("flaky", [seen]), behind)
    assert _inner_violations(group) == [seen]  # the cause is not followed: the group gave one
    assert _inner_violations(_raised_from(RuntimeError("replay failed"), behind)) == [behind]
    nested = _raised_from(ContractViolation("patch.empty_body", "outer"), behind)
    assert _inner_violations(nested) == [nested]  # nothing is reached through a violation


def test_first_errors_skip_hypothesis_own_errors_and_groups():
    from hypothesis.errors import FlakyFailure

    cause = ConnectionError("reset by peer")
    flaky = FlakyFailure("could not reproduce", [_raised_from(RuntimeError("setup refused"), cause)])
    assert [type(error) for error in _inner_errors(flaky)] == [RuntimeError, ConnectionError]
