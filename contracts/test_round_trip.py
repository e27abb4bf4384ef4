"""Round trip: whatever the server accepts comes back exactly as sent."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from meeting_room_contract import checks, model, strategies
from meeting_room_contract.observations import RECORDER

SALT = strategies.RUN_CODE_SALT


@given(name=strategies.edge_names(),
       properties=strategies.properties(strategies.edge_property_values()),
       codes=strategies.access_codes())
@example(name="  padded name  ", properties={"conference_start_wait": "360"}, codes=[])
@example(name="Zoë's 会議室 🎉 ☎", properties={"conference_moh": "007", "conference_start_wait": ""},
         codes=[{"access_code": "007" + SALT, "role": "host"}])
@example(name="x" * 120 + " long", properties={"did_language": "٣٦٠", "conference_stop_wait": "-1"}, codes=[])
def test_accepted_values_come_back_exactly(name, properties, codes, client, rooms, properties_tracker):
    """Unicode, surrounding whitespace, long strings, numeric-looking property values and codes
    with leading zeros: refused with 400/422 and nothing changed, or stored and returned exactly
    (answer and GET; access codes compared as a set)."""
    body = {"name": name, "properties": properties, "access_codes": codes}
    with rooms.fresh(label="round-trip") as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = checks.send_update(client, sid, "PATCH", body, properties_tracker)
        with checks.rule("round_trip.exact_values", "PATCH /meeting_rooms/{sid}"):
            if outcome == "rejected":
                checks.status_is_allowed("round_trip.exact_values", response, model.INVALID_VALUE,
                                         "PATCH with unusual but valid values")
        RECORDER.behaviour("edge_values", "accepted" if outcome == "applied" else outcome)


@given(data=st.data())
def test_plain_values_are_accepted_and_come_back_exactly(data, client, rooms, did_groups, properties_tracker):
    """Ordinary names, documented property values and digit codes are accepted and round-trip."""
    body = data.draw(strategies.put_bodies(did_groups, edge=False), label="PUT body")
    with rooms.fresh(label="plain") as created:
        sid = created["meeting_room_sid"]
        _, response, outcome = checks.send_update(client, sid, "PUT", body, properties_tracker)
        if outcome != "conflict":
            checks.valid_update_accepted(outcome, "round_trip.exact_values", "PUT", response)
