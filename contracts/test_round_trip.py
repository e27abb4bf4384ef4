"""Round trip: whatever the server accepts comes back exactly as sent."""

from __future__ import annotations

from hypothesis import example, given, reject
from hypothesis import strategies as st

from meeting_room_contract import checks, strategies
from meeting_room_contract.rules import UpdateOutcome


@given(method=st.sampled_from(["PATCH", "PUT"]), body=strategies.edge_field_values(()))
@example(method="PATCH", body={"name": "  padded name  ", "properties": {"conference_start_wait": "360"}, "access_codes": []})
@example(method="PUT", body={"name": "  padded by PUT\t", "properties": {"conference_start_wait": "007"}, "access_codes": []})
@example(method="PATCH", body={"name": "Zoë's 会議室 🎉 ☎", "properties": {"conference_mute_policy": "hplx", "conference_start_wait": ""},
               "access_codes": [{"access_code": "0071", "role": "host"}, {"access_code": "*6#1", "role": "listener"}]})
@example(method="PUT", body={"name": "x" * 120 + " long", "properties": {"conference_stop_wait": "٣٦٠", "call_mute_dtmf_binding": "-1"},
               "access_codes": [{"access_code": "0000123456789", "role": "participant"}]})
def test_accepted_values_come_back_exactly(method, body, client, rooms, properties_tracker):
    """Unicode, surrounding whitespace, long strings, undocumented property value forms and codes of
    other lengths or with `*`/`#` (every modifiable field with strings, drawn from the spec's
    schemas), by PATCH and by PUT: refused with 400/422 and nothing changed, or stored and returned exactly (answer
    and GET; access codes compared as a set). The examples are the docs-era troublemakers."""
    operation = checks.room_path_label(method)
    with rooms.fresh(label="trip") as created:
        sid = created["meeting_room_sid"]
        if method == "PUT":
            body = strategies.complete_put(body, created)  # the other modifiable fields as they are
        _, response, outcome = checks.send_update(client, sid, method, body, properties_tracker,
                                                  state_rule="round_trip.exact_values")
        if outcome is UpdateOutcome.CONFLICT:
            reject()  # proven: another room of the account holds a drawn code (uniqueness.conflict_explained)
        if outcome is UpdateOutcome.REJECTED:
            checks.rejection_status("status_invalid_value", response, operation, f"{method} with unusual but valid values")
        verdict = "accepted" if outcome is UpdateOutcome.APPLIED else "refused"
        if any(not strategies.is_plain_code(code) for code in strategies.codes_of(body)):
            checks.observe("edge_access_codes", verdict, operation, response)
        checks.observe("edge_values", verdict, operation, response)


@given(data=st.data())
def test_plain_values_are_accepted_and_come_back_exactly(data, client, rooms, did_groups, properties_tracker):
    """Ordinary names, documented property value forms and 6-digit codes are accepted and round-trip."""
    body = data.draw(strategies.put_bodies(did_groups), label="PUT body")
    with rooms.fresh(label="plain") as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = checks.send_update(client, sid, "PUT", body, properties_tracker,
                                                  state_rule="round_trip.exact_values")
        if not checks.valid_update_accepted(outcome, "round_trip.exact_values", "PUT", response):
            reject()  # proven: another room of the account holds a drawn code (uniqueness.conflict_explained)
