"""Fixtures every contract test needs before it sends anything."""

from __future__ import annotations

import pytest

from meeting_room_contract import puts, strategies


@pytest.fixture(scope="session", autouse=True)
def _put_style_probed(put_style: puts.PutStyle) -> None:
    """Every PUT the suite sends carries the read-only fields if (and only if) the target requires them."""
    puts.CURRENT = put_style


@pytest.fixture(autouse=True)
def _codes_in_use_snapshot() -> None:
    """Generators avoid the codes known to be in use before the test (stable within a test)."""
    strategies.refresh_avoided_codes()


# The most specific checks first, so that a failing gate's first failure names the broken rule
# (a PATCH bug shows in test_patch before it shows as a lost update in test_concurrency).
CONCERN_ORDER = ["test_patch", "test_put", "test_read_only", "test_uniqueness", "test_negative", "test_round_trip",
                 "test_edge_values", "test_request_forms", "test_shape", "test_auth", "test_isolation", "test_concurrency", "test_stateful"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def concern(item: pytest.Item) -> int:
        name = item.path.stem
        return CONCERN_ORDER.index(name) if name in CONCERN_ORDER else len(CONCERN_ORDER)

    items.sort(key=concern)  # stable: the order inside a module is kept
