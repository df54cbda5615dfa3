"""Relations are preloaded without N+1: one statement per relation level,
however many rows there are (statements counted on the connection)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from defi_sql import sync as db
from defi_sql.models import NewPosition


class CountingCursor(psycopg.Cursor[Any]):
    statements = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        CountingCursor.statements += 1
        return super().execute(*args, **kwargs)


@pytest.fixture
def counted(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True, cursor_factory=CountingCursor) as conn:
        yield conn


def statements_during(call: Any) -> int:
    before = CountingCursor.statements
    call()
    return CountingCursor.statements - before


@pytest.mark.parametrize("rows", [1, 25])
def test_user_with_positions_is_two_statements(counted: psycopg.Connection[Any], rows: int) -> None:
    user = db.users.create(counted, wallet_address="0x" + "1" * 40)
    snapshot = NewPosition(user_id=user.id, wallet_address=user.wallet_address, protocol="aave")
    db.positions.ingest(counted, [snapshot] * rows)
    loaded: list[Any] = []
    assert (
        statements_during(lambda: loaded.append(db.users.get_with_positions(counted, user.id))) == 2
    )
    assert len(loaded[0].positions) == rows


@pytest.mark.parametrize("alerts", [1, 25])
def test_pending_alerts_with_signals_is_two_statements(
    counted: psycopg.Connection[Any], alerts: int
) -> None:
    user = db.users.create(counted, wallet_address="0x" + "2" * 40)
    for n in range(alerts):
        signal = db.signals.create(counted, type=f"type_{n}", asset="ETH", severity="low")
        db.alerts.create(
            counted, user_id=user.id, signal_id=signal.id, type="t", channel="in_app", message="m"
        )
    found: list[Any] = []
    assert (
        statements_during(lambda: found.extend(db.alerts.pending_for_user(counted, user.id))) == 2
    )
    assert len(found) == alerts and all(item.signal is not None for item in found)
