"""Concurrency: concurrent PATCHes of disjoint fields on one room all persist."""

from __future__ import annotations

import itertools
import threading

from hypothesis import settings

from meeting_room_contract import actions, strategies
from meeting_room_contract.judges import conflicts
from meeting_room_contract.model import PropertiesMode

ROUNDS = max(3, settings.default.max_examples // 8)


def test_concurrent_patches_of_disjoint_fields_all_persist(client, rooms, did_groups, run):
    """One PATCH per modifiable field, all sent at the same moment: afterwards the room shows
    every value (no lost update), repeated over several rounds."""
    for round_number in range(ROUNDS):
        groups = did_groups[round_number % len(did_groups):][:1] if did_groups else []
        values = {**strategies.simplest_body(run, groups), **strategies.sample_values(run, groups)}
        bodies = {field: {field: value} for field, value in values.items()}
        with rooms.fresh({}, label="concur") as created:
            sid = created["meeting_room_sid"]
            before = actions.read_room(run, client, sid, "room before concurrent PATCHes")
            barrier = threading.Barrier(len(bodies))
            responses: dict[str, object] = {}

            def send(field: str) -> None:
                barrier.wait()
                responses[field] = client.patch_room(sid, bodies[field])

            threads = [threading.Thread(target=send, args=(field,)) for field in bodies]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if _refusals_proven_by_other_rooms(run, client, sid, bodies, responses, before):
                # proven: another room took this room's new code mid-round; the round says nothing (recorded)
                run.recorder.unchecked("concurrency.no_lost_update", "PATCH /meeting_rooms/{sid}",
                                       "a round refused as a proven conflict (another room holds a drawn code)")
                continue
            candidates = {mode: dict(before) for mode in PropertiesMode}
            for field, body in bodies.items():
                response = responses[field]
                actions.status_is(run, "concurrency.no_lost_update", response, frozenset({200}), "PATCH /meeting_rooms/{sid}",
                                 f"concurrent PATCH of {field}")
                candidates = {mode: run.model.apply_patch(state, body, mode) for mode, state in candidates.items()}
            after = actions.read_room(run, client, sid, "room after concurrent PATCHes")
            with actions.rule(run, "concurrency.no_lost_update", "PATCH /meeting_rooms/{sid}"):
                expected = candidates[PropertiesMode.MERGE]
                diffs = run.model.differences(expected, after)
                if diffs and all(run.model.differences(state, after) for state in candidates.values()):
                    raise actions.violated(run, "concurrency.no_lost_update", "concurrent PATCHes of disjoint fields lost "
                                            "writes: " + "; ".join(diffs), response=next(iter(responses.values())),
                                            operation="PATCH /meeting_rooms/{sid}", situation=f"round {round_number + 1}",
                                            expected=run.model.comparable(expected), observed=run.model.comparable(after))


def _refusals_proven_by_other_rooms(run, client, sid, bodies, responses, before) -> bool:
    """Every refused PATCH of the round is explained by another room holding one of the room's codes
    (a 409 no room explains fails `uniqueness.conflict_explained` here).

    The target judged each PATCH against the room as it was when that PATCH arrived: `before` with
    any of the round's other PATCHes applied (they raced). A refusal is explained by a room for one
    of those states (e.g. another tester took the room's new code while the room was still in its old
    DID group, and a later PATCH of the round moved it)."""
    refused = {field: response for field, response in responses.items() if response.status_code in (400, 409, 422)}
    if not refused:
        return False
    current = client.get_room(sid).json()
    return all(actions.conflict_explained(run, client, sid, _explaining_state(run, client, sid, before, current, bodies, field),
                                          "PATCH", bodies[field], response)
               for field, response in refused.items())


def _explaining_state(run, client, sid, before, current, bodies, field):
    """A state the room may have had when the PATCH of `field` arrived in which a room of the account
    explains its refusal; the state after the round when none does (then a 409 is judged there)."""
    others = [body for name, body in bodies.items() if name != field]
    for size in range(len(others) + 1):
        for applied in itertools.combinations(others, size):
            state = dict(before)
            for body in applied:
                state = run.model.apply_patch(state, body, PropertiesMode.REPLACE)
            holders = actions.code_holders(run, client, sid, state, "PATCH", bodies[field])
            if conflicts.explaining_holders(run.context(), holders, state, "PATCH", bodies[field]):
                return state
    return current
