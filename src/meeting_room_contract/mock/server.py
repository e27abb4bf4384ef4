"""The embedded mock's lifecycle: wires spec, store, semantics, hooks and HTTP, and starts/stops the server thread."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from . import schema as schema_module
from .behaviours import check_names
from .hooks import Hooks
from .http import API_PREFIX, MAX_BODY_BYTES, Front, Server
from .semantics import Account, Semantics, default_accounts
from .store import Store

__all__ = ["API_PREFIX", "MAX_BODY_BYTES", "MeetingRoomMock", "default_accounts", "Account"]


class MeetingRoomMock:
    """The meeting-room API on a loopback port: `start()` it, read `base_url`, `stop()` it (or use
    it as a context manager). `faults`/`variants` name behaviours of behaviours.py; `spec_path` is
    the OpenAPI file it implements (default: $CONFERENCE_SPEC, else the repository's spec);
    `latency_ms` delays every answer, as a remote deployment would."""

    def __init__(self, faults: tuple[str, ...] | list[str] = (), variants: tuple[str, ...] | list[str] = (),
                 host: str = "127.0.0.1", port: int = 0, verbose: bool = False,
                 spec_path: str | Path | None = None, latency_ms: float = 0):
        check_names(faults, variants)
        self.faults, self.variants = frozenset(faults), frozenset(variants)
        self.host, self.port, self.verbose, self.latency_ms = host, port, verbose, latency_ms
        self.spec_path = schema_module.spec_file(spec_path)
        self.hooks = Hooks([*faults, *variants])
        self.store = Store()
        self.api = Semantics(self.store, schema_module.load(self.spec_path), self.hooks, default_accounts())
        self.front = Front(self.api, self.hooks)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def accounts(self) -> list[Account]:
        return self.api.accounts

    @property
    def requests_served(self) -> int:
        return self.front.requests_served

    def start(self) -> "MeetingRoomMock":
        self._server = Server((self.host, self.port), self.front, self.latency_ms, self.verbose)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="meeting-room-mock", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "MeetingRoomMock":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- for tests: the server's side -----------------------------------------------------------------
    def rooms(self) -> dict[str, dict[str, Any]]:
        """Every stored room by sid, as stored (soft-deleted ones included)."""
        with self.store.lock:
            return {room[self.api.schema.id_field]: room for room in self.store.rooms()}

    def add_other_tester_room(self, access_codes: list[dict[str, Any]], did_group_sid: str | None = None,
                              account: int = 0) -> dict[str, Any]:
        """A room of an account that the suite did not create (someone else on a shared staging)."""
        return self.api.add_room(self.accounts[account].account_sid, {
            "name": "someone else's room", "access_codes": access_codes, "did_group_sid": did_group_sid})

    def on_created(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener` with every room a POST creates (as answered)."""
        self.api.listeners.append(listener)
