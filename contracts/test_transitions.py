"""The transition table: every modifiable field, by every write path, through every transition.

One explicit case per row of `transitions.table` (the spec's modifiable fields; no hypothesis draw):
POST of a new room with a value and with each empty form its schema allows; PATCH and PUT of a room
from an empty form to a value, from a value to another, from a value to each empty form (`null`,
`[]`, `{}`, `""`) and to the same value. Each PATCH/PUT case first puts the room in its start state
itself (one PUT of every modifiable field, judged like any PUT and read back by GET and in the
account's list), then sends the transition, judged on the answer and both read paths: a server that
answers 200 and keeps the old value for an empty one, on one write path only, fails its row.

A plain value must be accepted (the write path's rule; the same PUT twice: `put.idempotent`); an
edge value (an empty name) may be refused (behaviour `edge_values`), but accepted it must hold.
A row that cannot be made (no DID group of the account for a "value" side) is recorded as not
checked, with the reason.
"""

from __future__ import annotations

from meeting_room_contract import actions, strategies, transitions
from meeting_room_contract.actions import CREATE, NAME_KEY
from meeting_room_contract.judges.updates import room_operation
from meeting_room_contract.rules import UpdateOutcome

LABEL = "transit"  # the rooms of the table (a reused one for PATCH and PUT, one per POST row)


def test_transition(transition_case, client, rooms, did_groups, run):
    """One row of the table, from a start state set up by the case itself."""
    case = transition_case
    made = transitions.resolve(run, case, did_groups, lambda: rooms.name(LABEL))
    end_plain = not isinstance(made, str) and strategies.is_plain_field_value(run, case.field, made.end)
    rule_id = case.rule(end_plain)
    operation = CREATE if case.method == "POST" else room_operation(case.method)
    if isinstance(made, str):
        run.recorder.unchecked(rule_id, operation, f"not checked: {made}")
        return
    if case.method == "POST":
        _by_post(run, client, rooms, case, made, rule_id)
    else:
        _by_update(run, client, rooms, case, made, rule_id)


def _by_post(run, client, rooms, case, made, rule_id) -> None:
    """A new room with the value (and the run's name, or a fresh code that finds it when the name is
    the value): refused (an edge value only) with nothing created, or created holding it exactly."""
    body = {case.field: made.end}
    if case.field != NAME_KEY and NAME_KEY in run.model.CREATABLE_FIELDS:
        body[NAME_KEY] = rooms.name(LABEL)
    elif run.model.UNIQUE and case.field != run.model.UNIQUE[0].array_field:
        body[run.model.UNIQUE[0].array_field] = strategies.fresh_access_codes(run, 1)
    outcome, response = actions.create_with(run, client, body, f"transition {case.id}", rule_id)
    actions.one_value_verdict(run, case.field, made.end, case.id, outcome, response, "POST", rule_id)


def _by_update(run, client, rooms, case, made, rule_id) -> None:
    operation = room_operation(case.method)
    start = made.start_state(case.field)
    with rooms.reused(label=LABEL, free=run.model.MODIFIABLE_FIELDS) as room:  # its state is set below, not assumed
        sid = room[run.model.ID_FIELD]
        if not _start_state_set(run, client, case, made, start, sid, rule_id):
            return
        body = {case.field: made.end} if case.method == "PATCH" else {**start, case.field: made.end}
        _, response, outcome = actions.send_update(run, client, sid, case.method, body, state_rule=rule_id)
        actions.one_value_verdict(run, case.field, made.end, case.id, outcome, response, case.method, rule_id)


def _start_state_set(run, client, case, made, start, sid, rule_id) -> bool:
    """PUT the start state (every modifiable field) and read it back; False (recorded as not checked)
    when the target refuses it (an edge start value, a proven conflict) or does not hold it."""
    operation = room_operation(case.method)
    start_plain = strategies.is_plain_field_value(run, case.field, made.start)
    setup_rule = transitions.PATH_RULES["PUT"] if start_plain else transitions.EDGE_RULE
    label = f"{case.id} (start state: {case.field} = {case.start.label})"
    _, response, outcome = actions.send_update(run, client, sid, "PUT", start, state_rule=setup_rule)
    actions.one_value_verdict(run, case.field, made.start, label, outcome, response, "PUT", setup_rule)
    if outcome is not UpdateOutcome.APPLIED:
        run.recorder.unchecked(rule_id, operation, f"{case.id}: the start state could not be set (PUT answered "
                               f"{response.status_code})")
        return False
    before = actions.last_read(run, client, sid, f"{case.id}: the start state")  # the PUT's read-back (no request)
    drift = run.model.differences(start, before, run.model.MODIFIABLE_FIELDS)
    if drift:  # an accepted PUT that did not hold fails above; this only guards the case's premise
        run.recorder.unchecked(rule_id, operation, f"{case.id}: the start state was not read back: {'; '.join(drift)}")
        return False
    return True
