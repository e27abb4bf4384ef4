"""Judges of refusals that claim a conflict: which rooms of the account explain a refusal (pure:
the account's rooms are read by the actions layer and handed in)."""

from __future__ import annotations

from typing import Any, Mapping

from ..model import PropertiesMode
from .base import Failure, judge
from .context import Context


def candidate_state(context: Context, before: Mapping[str, Any] | None, method: str, body: Any) -> dict[str, Any] | None:
    """The room the body asks for (None when the body cannot describe one)."""
    model = context.model
    if not isinstance(body, dict):
        return None
    if before is None or method.upper() == "POST":
        return model.candidate(body)
    if method.upper() == "PUT" and not model.missing_put_fields(body):
        return model.apply_put(before, body)
    return model.apply_patch(before, body, PropertiesMode.REPLACE)


def holders_among(context: Context, rooms: list[Mapping[str, Any]], candidate: Mapping[str, Any],
                  exclude_sid: str | None) -> list[dict[str, Any]]:
    """Rooms (of the account's list), other than `exclude_sid`, holding an `x-unique` value (a code)
    of `candidate`, in any scope (e.g. any DID group)."""
    model = context.model
    holders = []
    for unique in model.UNIQUE:
        codes = model.unique_values(candidate, unique)
        if not codes:
            continue
        for room in rooms:
            if room.get(model.ID_FIELD) == exclude_sid:
                continue
            shared = codes & model.unique_values(room, unique)
            if shared:
                holders.append({"room": room.get(model.ID_FIELD), "scope": model.scope_of(room, unique),
                                "same_scope": model.scope_of(room, unique) == model.scope_of(candidate, unique),
                                "codes": sorted(shared, key=repr)})
    return holders


def codes_set_by(context: Context, before: Mapping[str, Any] | None, method: str, body: Any,
                 candidate: Mapping[str, Any]) -> set[Any]:
    """The codes the request puts into their scope: every code of the state asked for by a POST, a
    full PUT or a PATCH that changes a scope field; for any other PATCH the codes of its arrays."""
    model = context.model
    if before is None or method.upper() == "POST" or (method.upper() == "PUT" and not model.missing_put_fields(body)):
        return model.unique_values(candidate)
    if any(f in body and body[f] != before.get(f) for unique in model.UNIQUE for f in unique.scope
           if f in model.MODIFIABLE_FIELDS):
        return model.unique_values(candidate)
    return model.unique_values({unique.array_field: body[unique.array_field] for unique in model.UNIQUE
                                if unique.array_field in body})


def explaining_holders(context: Context, holders: list[dict[str, Any]], before: Mapping[str, Any] | None, method: str,
                       body: Any) -> list[dict[str, Any]]:
    """The holders that prove a refusal: rooms in the request's uniqueness scope.

    * same DID group (or any group on a target known to refuse codes across groups): any code of
      the state asked for;
    * another DID group while the target's choice is not known yet: only a code the request sets;
    * another DID group on a target known to let groups share codes: never.
    """
    candidate = candidate_state(context, before, method, body)
    if candidate is None:
        return []
    across = context.codes_across_did_groups
    claimed = codes_set_by(context, before, method, body, candidate)
    proven = []
    for holder in holders:
        if holder.get("same_scope") or across == "refused":
            proven.append(holder)
        elif across is None:
            codes = [code for code in holder["codes"] if code in claimed]
            if codes:
                proven.append({**holder, "codes": codes})
    return proven


@judge("uniqueness.conflict_explained")
def conflict_explained(context: Context, holders: list[dict[str, Any]], in_body: set[Any], evidence: Any,
                       operation: str) -> list[Failure]:
    """A 409 is explained by a room of the account in the request's scope, or by a code repeated in the body."""
    if holders or in_body:
        return []
    candidate = candidate_state(context, evidence.before, evidence.method, evidence.body) or {}
    return [Failure("uniqueness.conflict_explained", operation, f"{evidence.method.upper()} answered 409",
                    "no room of the account in the request's uniqueness scope holds one of the access codes it asks for, "
                    "and none repeats in the body: a valid request was refused",
                    observed={u.array_field: candidate.get(u.array_field) for u in context.model.UNIQUE})]
