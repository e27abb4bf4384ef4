"""Fixtures every contract test needs before it sends anything."""

from __future__ import annotations

import pytest

from meeting_room_contract import puts


@pytest.fixture(scope="session", autouse=True)
def _put_style_probed(put_style: puts.PutStyle) -> None:
    """Every PUT the suite sends carries the read-only fields if (and only if) the target requires them."""
    puts.CURRENT = put_style
