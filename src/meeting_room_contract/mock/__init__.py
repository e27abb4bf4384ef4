"""The embedded mock of the meeting-room API, with named faults and allowed variants."""

from .behaviours import FAULTS, VARIANTS, Behaviour
from .server import API_PREFIX, MeetingRoomMock, default_accounts

__all__ = ["API_PREFIX", "FAULTS", "VARIANTS", "Behaviour", "MeetingRoomMock", "default_accounts"]
