"""The embedded mock of the meeting-room API: an independent implementation of CONTRACT.md, with named faults and variants.

Trades: schema.py (reading the spec), store.py (SQLite), semantics.py (the correct path),
hooks.py (faults and variants beside it), behaviours.py (their names and rules), http.py
(the HTTP server), server.py (wiring and lifecycle), __main__.py (the standalone command).
"""

from .behaviours import FAULTS, VARIANTS, Behaviour
from .server import API_PREFIX, MeetingRoomMock, default_accounts

__all__ = ["API_PREFIX", "FAULTS", "VARIANTS", "Behaviour", "MeetingRoomMock", "default_accounts"]
