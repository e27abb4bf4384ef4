"""The one ownership policy: which rooms a command of this project may change or delete.

Every command the project ships asks here: the contract run's client, its tests, the end-of-run
sweep, `--delete-leftovers` and the cleanup command, and the replay. A room is the run's only when

- this run's own POST answer named it (the sid of the creating answer; a journal of a dead run of
  this suite on this machine names such sids too), or
- it carries a name this run built and sent in a POST (`<prefix>-<run id> <label> ...`: the run id
  is unique to the run, and the run writes down every such name before its POST is sent), or
- one of the run's updates moved one of its rooms to a sid the run made up itself (a fresh random sid
  sent as the room's read-only id, applied by a faulty server: `moved_room_is_ours`), or
- a POST of this run that cannot carry such a name (`{}`, a name that is the edge value under test)
  lost its answer (a gateway error, a dropped connection), and a listing taken just before it was
  sent, compared with one taken after, shows exactly one new room that holds what the POST sent
  (`attribute_creation`).

Nothing else is ever changed or deleted: a room found by an access code, by a name this run did not
send, by the run's prefix alone, or named in an answer (a re-keyed sid) is reported for a human
(`RoomRegistry.report_foreign`), never adopted. The registry keeps the facts (what was created,
deleted, POSTed); this module decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Protocol

NAME_KEY = "name"


class Facts(Protocol):
    """What the policy reads of the run (a `registry.RoomRegistry`)."""

    room_name_prefix: str

    def owns(self, sid: str) -> bool: ...

    def posted_this_name(self, name: str) -> bool: ...

    def is_unknown_sid(self, sid: str) -> bool: ...

    def is_journalled(self, sid: str) -> bool: ...

    # what a room created from a POST body holds (the run's model: the sent fields, defaults for the rest);
    # None: every sent field as sent (`holds_what_was_sent`)
    creation_matches: Callable[[Any, Mapping[str, Any]], bool] | None
    # whether a room holds a fresh value the POST body sent (an access code): no proof, but a room that may be the
    # POST's in an altered form (then the POST is not sent again)
    creation_resembles: Callable[[Any, Mapping[str, Any]], bool] | None


def may_change(facts: Facts, sid: str) -> bool:
    """Whether a PATCH/PUT/DELETE may go to `sid`: a room this run created, a room a dead run of the
    suite journalled on this machine (the cleanup), or a fresh random sid the run made up for a 404
    probe (it names no room)."""
    return facts.owns(sid) or facts.is_unknown_sid(sid) or facts.is_journalled(sid)


def moved_room_is_ours(facts: Facts, sid: Any) -> bool:
    """A room one of the run's own updates moved to `sid` (a server that applied a sent `meeting_room_sid`):
    the run's only when `sid` is one the run made up itself (a fresh random sid, `is_unknown_sid`), which no
    room held before that update. A sid named in an answer is otherwise no proof: reported."""
    return isinstance(sid, str) and facts.is_unknown_sid(sid)


def run_name(facts: Facts, body: Any) -> str | None:
    """The name of this run that a POST body carries (what proves the room it creates), or None."""
    name = body.get(NAME_KEY) if isinstance(body, Mapping) else None
    if isinstance(name, str) and name.startswith(facts.room_name_prefix + " "):
        return name
    return None


def carries_a_name_of_the_run(facts: Facts, room: Mapping[str, Any]) -> bool:
    """The room holds exactly a name that a POST of this run sent (any process of the run)."""
    name = room.get(NAME_KEY)
    return isinstance(name, str) and name.startswith(facts.room_name_prefix + " ") and facts.posted_this_name(name)


def named_like_the_run(facts: Facts, room: Mapping[str, Any]) -> bool:
    """The room's name starts with this run's prefix (a room of some process of the run: never a
    colleague's; not proof that it is this process's room, see `carries_a_name_of_the_run`)."""
    name = room.get(NAME_KEY)
    return isinstance(name, str) and name.startswith(facts.room_name_prefix + " ")


@dataclass
class Attribution:
    """What a listing diff says about a POST whose answer was lost."""

    room: dict[str, Any] | None = None  # the one new room that is what the POST makes: the POST created it
    candidates: list[dict[str, Any]] = field(default_factory=list)  # several such rooms (reported, never adopted)

    @property
    def nothing_created(self) -> bool:
        """No new room is what the POST makes: it created nothing (new rooms holding other values are other
        testers'), and sending it again is safe."""
        return self.room is None and not self.candidates


def attribute_creation(facts: Facts, sent: Any, before: Iterable[str], listed: Iterable[Mapping[str, Any]],
                       id_field: str) -> Attribution:
    """Which room, if any, a POST created whose answer was lost: the rooms listed now that were not
    listed just before the POST was sent (`before`), are not the run's already and are not named like
    the run's (another process of the run creates those), and are the room the POST makes: the fields
    sent with the values sent, the defaults for the others (`facts.creation_matches`, from the run's
    model; else every sent field as sent). Exactly one such room: the POST's. Several: ambiguous
    (another tester created the same meanwhile), reported. None, but a new room holds a fresh value the
    POST sent (`facts.creation_resembles`: its code): it may be the POST's room, altered by the server;
    reported, and the POST is not sent again. Else the POST created nothing (new rooms holding other
    values are other testers')."""
    known = set(before)
    new = [dict(room) for room in listed if isinstance(room, Mapping) and isinstance(room.get(id_field), str)
           and room[id_field] not in known and not facts.owns(room[id_field]) and not named_like_the_run(facts, room)]
    matches = getattr(facts, "creation_matches", None) or holds_what_was_sent
    matching = [room for room in new if matches(sent, room)]
    if len(matching) == 1:
        return Attribution(room=matching[0])
    resembles = getattr(facts, "creation_resembles", None)
    return Attribution(room=None, candidates=matching or [room for room in new if resembles and resembles(sent, room)])


def holds_what_was_sent(sent: Any, room: Mapping[str, Any]) -> bool:
    """Every field of the POST body is in the room with the value sent (lists compared without order)."""
    if not isinstance(sent, Mapping):
        return False
    return all(key in room and _same(value, room[key]) for key, value in sent.items())


def _same(sent: Any, stored: Any) -> bool:
    if isinstance(sent, list) and isinstance(stored, list):
        return sorted(map(_canonical, sent)) == sorted(map(_canonical, stored))
    return _canonical(sent) == _canonical(stored)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
