"""The mock's storage: accounts, DID groups and rooms in an in-memory SQLite database with constraints."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from typing import Any, Iterable, Iterator

SCHEMA = """
PRAGMA foreign_keys = ON;
CREATE TABLE accounts (
    account_sid TEXT PRIMARY KEY,
    login       TEXT NOT NULL UNIQUE,
    password    TEXT NOT NULL,
    position    INTEGER NOT NULL UNIQUE
);
CREATE TABLE did_groups (
    did_group_sid TEXT PRIMARY KEY,
    account_sid   TEXT NOT NULL REFERENCES accounts(account_sid),
    position      INTEGER NOT NULL,
    document      TEXT NOT NULL CHECK (json_valid(document))
);
CREATE TABLE rooms (
    meeting_room_sid TEXT PRIMARY KEY,
    account_sid      TEXT NOT NULL,
    created          INTEGER NOT NULL,
    deleted          INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    document         TEXT NOT NULL CHECK (json_valid(document) AND json_type(document) = 'object')
);
CREATE INDEX rooms_by_account ON rooms (account_sid, created);
-- One row per distinct unique value (an access code) a room holds. `scope` is the uniqueness scope
-- (account and DID group, null group included, as a key); a NULL scope takes part in no uniqueness.
-- Rows written with indexed = 0 stand for data the index never saw (another writer's race).
CREATE TABLE unique_values (
    rule             TEXT NOT NULL,
    scope            TEXT,
    value            TEXT NOT NULL,
    meeting_room_sid TEXT NOT NULL REFERENCES rooms(meeting_room_sid) ON DELETE CASCADE ON UPDATE CASCADE,
    indexed          INTEGER NOT NULL DEFAULT 1 CHECK (indexed IN (0, 1)),
    UNIQUE (rule, value, meeting_room_sid)
);
CREATE UNIQUE INDEX one_holder_per_scope ON unique_values (rule, scope, value) WHERE indexed = 1;
CREATE INDEX holders_of_value ON unique_values (rule, value);
"""


SQL_INT_MAX = 2**63 - 1  # SQLite's largest integer: a larger offset is past every row anyway


class Conflict(Exception):
    """The unique index refused a write: another room of the scope holds a value."""


class Store:
    """One in-memory database behind one connection; callers hold `lock` around a whole request."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.db.executescript(SCHEMA)
        self._created = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            if self.db.in_transaction:  # nested: part of the caller's transaction
                yield
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Give the lock up for a while (held once by the caller), then take it back."""
        self.lock.release()
        try:
            yield
        finally:
            self.lock.acquire()

    # -- accounts and DID groups ---------------------------------------------------------------
    def add_account(self, account_sid: str, login: str, password: str, did_groups: Iterable[dict[str, Any]]) -> None:
        with self.transaction():
            position = self.db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
            self.db.execute("INSERT INTO accounts VALUES (?, ?, ?, ?)", (account_sid, login, password, position))
            for index, group in enumerate(did_groups):
                self.db.execute("INSERT INTO did_groups VALUES (?, ?, ?, ?)",
                                (group["did_group_sid"], account_sid, index, json.dumps(group)))

    def account_sids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT account_sid FROM accounts ORDER BY position")]

    def account_by_login(self, login: str) -> tuple[str, str] | None:
        """(account_sid, password) of a login."""
        row = self.db.execute("SELECT account_sid, password FROM accounts WHERE login = ?", (login,)).fetchone()
        return (row[0], row[1]) if row else None

    def accounts_with_password(self, password: str) -> list[str]:
        return [row[0] for row in self.db.execute(
            "SELECT account_sid FROM accounts WHERE password = ? ORDER BY position", (password,))]

    def did_groups(self, account_sid: str | None = None) -> list[dict[str, Any]]:
        """The DID groups of an account (None: of every account)."""
        rows = (self.db.execute("SELECT document FROM did_groups ORDER BY account_sid, position") if account_sid is None
                else self.db.execute("SELECT document FROM did_groups WHERE account_sid = ? ORDER BY position", (account_sid,)))
        return [json.loads(row[0]) for row in rows]

    # -- rooms ---------------------------------------------------------------------------------------
    def room(self, sid: str) -> tuple[dict[str, Any], bool] | None:
        """(room, deleted) for a sid, or None."""
        row = self.db.execute("SELECT document, deleted FROM rooms WHERE meeting_room_sid = ?", (sid,)).fetchone()
        return (json.loads(row[0]), bool(row[1])) if row else None

    def rooms(self, account_sid: str | None = None, limit: int = -1, offset: int = 0) -> list[dict[str, Any]]:
        """The rooms of an account (None: all) in creation order, soft-deleted ones included; a page
        of them with `limit` (-1: all) and `offset`."""
        where, args = ("WHERE account_sid = ?", (account_sid,)) if account_sid is not None else ("", ())
        rows = self.db.execute(f"SELECT document FROM rooms {where} ORDER BY created LIMIT ? OFFSET ?",
                               (*args, min(limit, SQL_INT_MAX), min(offset, SQL_INT_MAX)))
        return [json.loads(row[0]) for row in rows]

    def count_rooms(self, account_sid: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM rooms WHERE account_sid = ?", (account_sid,)).fetchone()[0]

    def insert(self, room: dict[str, Any], sid_field: str, account_field: str,
               unique: Iterable[tuple[str, str | None, str]], indexed: bool = True) -> None:
        """Store a new room with its unique values (rule, scope, value); Conflict when the index refuses."""
        with self.transaction():
            self._created += 1
            self.db.execute("INSERT INTO rooms (meeting_room_sid, account_sid, created, document) VALUES (?, ?, ?, ?)",
                            (room[sid_field], room[account_field], self._created, json.dumps(room)))
            self._write_unique(room[sid_field], unique, indexed)

    def replace(self, old_sid: str, room: dict[str, Any], sid_field: str, account_field: str,
                unique: Iterable[tuple[str, str | None, str]]) -> None:
        """Overwrite a room (re-keyed when its sid changed: a room already under the new sid is replaced)."""
        new_sid = room[sid_field]
        with self.transaction():
            if new_sid != old_sid:
                self.db.execute("DELETE FROM rooms WHERE meeting_room_sid = ?", (new_sid,))
                self.db.execute("UPDATE rooms SET meeting_room_sid = ? WHERE meeting_room_sid = ?", (new_sid, old_sid))
            self.db.execute("UPDATE rooms SET account_sid = ?, document = ? WHERE meeting_room_sid = ?",
                            (room[account_field], json.dumps(room), new_sid))
            self.db.execute("DELETE FROM unique_values WHERE meeting_room_sid = ?", (new_sid,))
            self._write_unique(new_sid, unique, True)

    def set_document(self, sid: str, room: dict[str, Any]) -> None:
        """Overwrite a room's document only (its unique values stay as they are)."""
        self.db.execute("UPDATE rooms SET document = ? WHERE meeting_room_sid = ?", (json.dumps(room), sid))

    def _write_unique(self, sid: str, unique: Iterable[tuple[str, str | None, str]], indexed: bool) -> None:
        rows = {(rule, scope, value, sid, int(indexed)) for rule, scope, value in unique}  # a value once per room
        try:
            self.db.executemany("INSERT INTO unique_values VALUES (?, ?, ?, ?, ?)", sorted(rows, key=repr))
        except sqlite3.IntegrityError as error:
            raise Conflict(str(error)) from None

    def delete(self, sid: str) -> None:
        self.db.execute("DELETE FROM rooms WHERE meeting_room_sid = ?", (sid,))

    def mark_deleted(self, sid: str, room: dict[str, Any]) -> None:
        """A soft delete: the row stays (with `room` as its document) and holds no unique value."""
        with self.transaction():
            self.db.execute("UPDATE rooms SET deleted = 1, document = ? WHERE meeting_room_sid = ?", (json.dumps(room), sid))
            self.db.execute("DELETE FROM unique_values WHERE meeting_room_sid = ?", (sid,))

    # -- uniqueness ------------------------------------------------------------------------------------
    def holders(self, rule: str, scope: str | None, values: Iterable[str], exclude_sid: str | None) -> list[tuple[str, str]]:
        """(sid, value) of rooms in `scope` holding one of `values`, except `exclude_sid`."""
        values = sorted(set(values))
        if scope is None or not values:
            return []
        marks = ",".join("?" * len(values))
        return [tuple(row) for row in self.db.execute(
            f"SELECT meeting_room_sid, value FROM unique_values WHERE rule = ? AND scope = ? AND value IN ({marks}) "
            "AND meeting_room_sid IS NOT ? ORDER BY value, meeting_room_sid", (rule, scope, *values, exclude_sid))]

    def holders_anywhere(self, rule: str, values: Iterable[str]) -> list[tuple[str, str, str]]:
        """(sid, account_sid, value) of every room of any account holding one of `values`."""
        values = sorted(set(values))
        if not values:
            return []
        marks = ",".join("?" * len(values))
        return [tuple(row) for row in self.db.execute(
            "SELECT u.meeting_room_sid, r.account_sid, u.value FROM unique_values u JOIN rooms r USING (meeting_room_sid) "
            f"WHERE u.rule = ? AND u.value IN ({marks}) ORDER BY u.value, u.meeting_room_sid", (rule, *values))]
