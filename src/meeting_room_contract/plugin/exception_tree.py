"""Walking what a failed test raised: exception groups (hypothesis, schemathesis, pytest's
subtests) and the causes and contexts chained to an error. The plugin's hooks ask it which
violations, errors or "could not test" conditions a failure holds."""

from __future__ import annotations

from typing import Callable, Iterator


def group_leaves(error: BaseException) -> list[BaseException]:
    """The errors an (exception-group) error consists of, groups flattened; `[error]` for a plain one."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in group_leaves(inner)]
    return [error]


def chained(error: BaseException, *, stop: Callable[[BaseException], bool] = lambda error: False,
            causes_first_only: bool = False) -> Iterator[BaseException]:
    """Every error reachable from `error`, depth first and each once: itself, the members of a group,
    then its cause and context. Nothing is reached through an error `stop` accepts. With
    `causes_first_only`, a cause or context is followed only when the groups below gave nothing that
    `stop` accepts (the error that happened first, not one raised while it was handled)."""
    seen: set[int] = set()

    def walk(node: BaseException) -> Iterator[BaseException]:
        if id(node) in seen:
            return
        seen.add(id(node))
        yield node
        if stop(node):
            return
        found = False
        for inner in getattr(node, "exceptions", ()) or ():
            for reached in walk(inner):
                found = found or stop(reached)
                yield reached
        if causes_first_only and found:
            return
        for linked in ((node.__cause__ or node.__context__,) if causes_first_only else (node.__cause__, node.__context__)):
            if linked is not None:
                yield from walk(linked)

    return walk(error)
