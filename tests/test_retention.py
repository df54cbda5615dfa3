"""Retention (migration 0048, `maintain --retention`): whole partitions older
than the setting are rolled up into positions_daily, detached and dropped;
nothing newer is touched; the read model follows; positions.history says
where its answer comes from. The oracle for the rollups is Python over the
snapshots written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
import pytest

from defi_sql import sync
from defi_sql.dev.partitions import by_month, month_start
from defi_sql.errors import InvalidInput
from defi_sql.models import Asset, NewPosition

from .helpers import at_once, wallet

NOW = datetime.now(UTC)
#: monthly partitions from here to a month past now, as a database partitioned for a while has
START = datetime(NOW.year - 1, NOW.month, 1, tzinfo=UTC)


def partitioned_for_a_year(conn: psycopg.Connection[Any]) -> list[datetime]:
    """Replace the (empty) legacy partition by monthly ones from START; their starts."""
    return by_month(conn, START, month_start(NOW, 1))


def user(conn: psycopg.Connection[Any], n: int) -> UUID:
    made: UUID = sync.users.create(conn, wallet_address=wallet(n)).id
    return made


def snap(owner: UUID, at: datetime, hf: str | None, usd: str = "100") -> NewPosition:
    return NewPosition(
        user_id=owner,
        wallet_address=wallet(9),
        protocol="aave-v3",
        health_factor=None if hf is None else Decimal(hf),
        collateral=[
            Asset(symbol="ETH", amount=Decimal("1"), value_usd=Decimal(usd)),
            Asset(symbol="WBTC", amount=Decimal("1"), value_usd=Decimal("0.5")),
        ],
        debt=[Asset(symbol="USDC", amount=Decimal("10"), value_usd=Decimal("10"))],
        snapshot_at=at,
    )


def test_old_partitions_are_rolled_up_and_dropped_and_history_says_so(
    db: psycopg.Connection[Any],
) -> None:
    starts = partitioned_for_a_year(db)
    old_user, active = user(db, 1), user(db, 2)
    day = START + timedelta(days=3, hours=1)  # in the first month
    sync.positions.ingest(
        db,
        [
            snap(old_user, day, "1.5", "100"),
            snap(old_user, day + timedelta(hours=2), None, "200"),  # no debt
            snap(old_user, day + timedelta(hours=5), "1.2", "300"),  # the day's last
            snap(old_user, day + timedelta(days=1), "2.0"),
            snap(active, day, "3.0"),
            snap(active, NOW - timedelta(days=1), "1.1"),  # kept
        ],
    )
    retention = NOW - month_start(START, 2) - timedelta(days=1)  # two months go
    retired = sync.maintenance.retire(db, retention=retention)
    assert [r.partition_name for r in retired] == [
        f"positions_{starts[0]:%Y_%m}",
        f"positions_{starts[1]:%Y_%m}",
    ]
    assert [(r.snapshots, r.days) for r in retired] == [(5, 3), (0, 0)]
    assert sync.maintenance.retire(db, retention=retention) == []  # idempotent
    # the oracle: the three snapshots of old_user's first day
    first_day = sync.positions.history(db, old_user, START, START + timedelta(days=10))
    assert first_day.source == "rollups"
    assert first_day.snapshots == []
    assert first_day.snapshots_since == month_start(START, 2)
    d = first_day.days[0]
    assert (d.day, d.snapshots) == (day.date(), 3)
    assert (d.first_health_factor, d.last_health_factor, d.min_health_factor) == (
        Decimal("1.5"),
        Decimal("1.2"),
        Decimal("1.2"),
    )
    assert (d.last_collateral_usd, d.last_debt_usd) == (Decimal("300.5"), Decimal("10"))
    assert (d.first_snapshot_at, d.last_snapshot_at) == (day, day + timedelta(hours=5))
    assert [x.day for x in first_day.days] == [day.date(), day.date() + timedelta(days=1)]
    # across the boundary: rollups, then snapshots
    both = sync.positions.history(db, active, START, NOW)
    assert both.source == "both"
    assert [x.day for x in both.days] == [day.date()]
    assert [s.health_factor for s in both.snapshots] == [Decimal("1.1")]
    recent = sync.positions.history(db, active, NOW - timedelta(days=2), NOW)
    assert (recent.source, recent.days, len(recent.snapshots)) == ("snapshots", [], 1)
    # the read model: old_user's latest snapshot went with its partition
    assert sync.positions.latest(db, old_user) is None
    assert sync.positions.latest(db, active).health_factor == Decimal("1.1")  # type: ignore[union-attr]


def test_nothing_the_retention_setting_keeps_is_removed(db: psycopg.Connection[Any]) -> None:
    """The legacy partition of 0045 ends after now: kept whole, whatever the setting."""
    owner = user(db, 3)
    sync.positions.ingest(db, [snap(owner, NOW - timedelta(days=400), "1.0")])
    assert sync.maintenance.retire(db, retention=timedelta(days=1)) == []
    assert len(sync.positions.history(db, owner, NOW - timedelta(days=500), NOW).snapshots) == 1


def test_roll_up_twice_writes_the_same_days(db: psycopg.Connection[Any]) -> None:
    owner = user(db, 4)
    sync.positions.ingest(
        db, [snap(owner, NOW - timedelta(days=2, hours=h), f"1.{h}") for h in range(5)]
    )
    db.execute("SELECT positions_roll_up(NULL, NULL)")
    first = db.execute("SELECT * FROM positions_daily ORDER BY day").fetchall()
    db.execute("SELECT positions_roll_up(NULL, NULL)")
    assert db.execute("SELECT * FROM positions_daily ORDER BY day").fetchall() == first
    assert sum(row[4] for row in first) == 5


def test_two_retentions_at_once_retire_each_partition_once(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        partitioned_for_a_year(conn)
        owner = user(conn, 5)
        sync.positions.ingest(
            conn, [snap(owner, START + timedelta(days=31 * m + 1), "1.0") for m in range(6)]
        )
    retired: list[str] = []

    def run(_: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            retired.extend(
                r.partition_name
                for r in sync.maintenance.retire(conn, retention=timedelta(days=120))
            )

    assert at_once(3, run) == []
    assert len(retired) == len(set(retired)) >= 6
    with psycopg.connect(db_url, autocommit=True) as conn:
        rolled = conn.execute("SELECT sum(snapshots) FROM positions_daily").fetchone()
        kept = conn.execute("SELECT count(*) FROM positions").fetchone()
        assert rolled is not None and kept is not None
        assert int(rolled[0] or 0) + int(kept[0]) == 6  # each snapshot once, here or there


@pytest.mark.parametrize("retention", [timedelta(0), 30])
def test_a_bad_retention_is_refused_before_anything_is_done(
    db: psycopg.Connection[Any], retention: Any
) -> None:
    before = sync.maintenance.partitions(db)
    with pytest.raises(InvalidInput):
        sync.maintenance.run(db, retention=retention)
    assert sync.maintenance.partitions(db) == before


def test_daily_rows_are_dated_by_the_utc_day(db: psycopg.Connection[Any]) -> None:
    owner = user(db, 6)
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    sync.positions.ingest(db, [snap(owner, late, "1.0")])
    db.execute("SET TimeZone = 'Asia/Tokyo'")  # 08:30 on March 2nd there
    db.execute("SELECT positions_roll_up(NULL, NULL)")
    assert db.execute("SELECT day FROM positions_daily").fetchall() == [(date(2026, 3, 1),)]


def test_a_snapshot_written_late_into_a_retired_range_is_rolled_up_too(
    db: psycopg.Connection[Any], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written between the roll-up and the DETACH (another writer, late data): the
    roll-up of the detached table counts it; nothing is dropped uncounted."""
    partitioned_for_a_year(db)
    owner = user(db, 7)
    day = START + timedelta(days=2)
    sync.positions.ingest(db, [snap(owner, day, "1.5")])
    real = sync.maintenance._detach

    def late_writer_first(conn: psycopg.Connection[Any], name: str) -> None:
        with psycopg.connect(db_url, autocommit=True) as other:
            sync.positions.ingest(other, [snap(owner, day + timedelta(hours=1), "0.9")])
        real(conn, name)

    monkeypatch.setattr(sync.maintenance, "_detach", late_writer_first)
    retired = sync.maintenance.retire(db, retention=NOW - month_start(START, 1) - timedelta(days=1))
    assert [(r.snapshots, r.days) for r in retired] == [(2, 1)]
    [d] = sync.positions.history(db, owner, START, month_start(START, 1)).days
    assert (d.snapshots, d.last_health_factor, d.min_health_factor) == (
        2,
        Decimal("0.9"),
        Decimal("0.9"),
    )


def test_a_value_usd_numeric_cannot_hold_does_not_halt_the_roll_up(
    db: psycopg.Connection[Any],
) -> None:
    """positions' check (is_asset_list) stores a valueUSD string of 140,000
    digits, as psql or the TypeScript app may write it; the roll-up's sum
    (positions_usd, by json_decimal) raised "value overflows numeric format"
    on it, and retention stopped for every user. It counts as no number now
    (0055), for that asset alone."""
    partitioned_for_a_year(db)
    owner = user(db, 9)
    day = START + timedelta(days=3)
    db.execute(
        "INSERT INTO positions (user_id, wallet_address, protocol, chain_id, health_factor,"
        " collateral, debt, snapshot_at) VALUES (%s, %s, 'aave-v3', 1, 1.5, jsonb_build_array("
        " jsonb_build_object('symbol', 'ETH', 'amount', '1', 'valueUSD', repeat('9', 140000)),"
        " jsonb_build_object('symbol', 'DAI', 'amount', '5', 'valueUSD', '5')), '[]', %s)",
        (owner, wallet(9), day),
    )
    retired = sync.maintenance.retire(db, retention=NOW - month_start(START, 1) - timedelta(days=1))
    assert [(r.snapshots, r.days) for r in retired] == [(1, 1)]
    row = db.execute("SELECT last_collateral_usd FROM positions_daily").fetchone()
    assert row == (Decimal(5),)


def test_a_run_stopped_after_the_detach_is_finished_by_the_next(
    db: psycopg.Connection[Any],
) -> None:
    partitioned_for_a_year(db)
    owner = user(db, 8)
    sync.positions.ingest(db, [snap(owner, START + timedelta(days=1), "1.5")])
    name = f"positions_{START:%Y_%m}"
    db.execute("SELECT * FROM positions_detach_partition(%s)", (name,))  # then the run died
    assert db.execute("SELECT positions_detached()").fetchall() == [(name,)]
    assert sync.positions.latest(db, owner) is None  # the read model followed the detach
    retired = sync.maintenance.retire(db, retention=timedelta(days=36000))  # nothing that old
    assert [(r.partition_name, r.snapshots, r.days) for r in retired] == [(name, 1, 1)]
    assert db.execute("SELECT positions_detached()").fetchall() == []
    assert db.execute("SELECT to_regclass(%s)", (f"partitions.{name}",)).fetchone() == (None,)


def test_ties_on_snapshot_at_are_broken_as_latest_breaks_them(
    db: psycopg.Connection[Any],
) -> None:
    """Two snapshots at the day's first moment and two at its last, each pair written
    by separate statements: the rollup's first and last are the ones positions.sql's
    order (snapshot_at, then write order) puts first and last, read before retiring."""
    partitioned_for_a_year(db)
    owner = user(db, 3)
    day = START + timedelta(days=4, hours=1)
    for hf, usd, at in [
        ("1.40", "10", day),
        ("1.30", "20", day),  # same moment, written later: after 1.40
        ("1.90", "30", day + timedelta(hours=3)),
        ("1.80", "40", day + timedelta(hours=3)),  # the day's last
    ]:
        sync.positions.ingest(db, [snap(owner, at, hf, usd)])
    ordered = sync.positions.list_for_user(db, owner)  # newest first, by the same rule
    assert [p.health_factor for p in ordered] == [
        Decimal(x) for x in ("1.80", "1.90", "1.30", "1.40")
    ]
    retention = NOW - month_start(START, 1) - timedelta(days=1)
    assert [r.snapshots for r in sync.maintenance.retire(db, retention=retention)] == [4]
    (d,) = sync.positions.history(db, owner, START, START + timedelta(days=10)).days
    assert (d.snapshots, d.first_health_factor, d.last_health_factor) == (
        4,
        ordered[-1].health_factor,
        ordered[0].health_factor,
    )
    assert (d.min_health_factor, d.last_collateral_usd) == (Decimal("1.30"), Decimal("40.5"))


@pytest.mark.parametrize(
    ("datestyle", "timezone"),
    [("ISO, MDY", "UTC"), ("ISO, DMY", "Asia/Kolkata"), ("ISO, YMD", "America/St_Johns")],
)
def test_history_reads_the_boundary_the_partitions_function_reads(
    db: psycopg.Connection[Any], datestyle: str, timezone: str
) -> None:
    """positions.history reads its boundary straight from the catalog, not
    through positions_partitions() (0046, slow with many partitions): the oracle
    is that function, with the legacy partition, after retention, and in
    sessions whose time zone and date order differ (psycopg reads ISO dates only)."""
    since = """SELECT range_start FROM positions_partitions() WHERE NOT is_default
                ORDER BY range_start NULLS FIRST LIMIT 1"""
    owner = user(db, 1)
    assert sync.positions.history(db, owner, START, NOW).snapshots_since is None
    starts = partitioned_for_a_year(db)
    sync.maintenance.retire(db, retention=NOW - starts[3])
    db.execute("SELECT set_config('datestyle', %s, false)", (datestyle,))
    db.execute("SELECT set_config('timezone', %s, false)", (timezone,))
    found = sync.positions.history(db, owner, START, NOW).snapshots_since
    oracle = db.execute(since).fetchone()
    assert oracle is not None and found == oracle[0]
    assert found in starts[1:4] and found == starts[starts.index(found)]
