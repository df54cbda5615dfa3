"""Hostile input: every public function that takes caller input, fed garbage by hypothesis.

The property, for each call: it either succeeds and what it stored reads back
exactly (unicode text verbatim, SQL-injection strings included), or it raises
our typed error (a :class:`DefiSqlError`) with a one-sentence message, writes
nothing, and leaves the connection usable (and a caller's transaction not
aborted). Never a bare psycopg, TypeError, ValueError or msgspec error.

Each test function gets one fresh database and checks row deltas, so the
examples of one test share it. Examples are derandomized: CI runs the same
inputs every time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

import msgspec
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from defi_sql import sync
from defi_sql.errors import DefiSqlError
from defi_sql.models import (
    AlertThresholds,
    Asset,
    IntentAction,
    IntentCondition,
    NewEvent,
    NewPosition,
    UserPreferences,
)

from .conftest import Api
from .helpers import new_user

T = TypeVar("T")
EXAMPLES = 30
hostile = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

WALLET = "0x" + "ab" * 20

INJECTIONS = [
    "'); DROP TABLE users; --",
    "' OR '1'='1",
    "' OR 1=1 --",
    '"; DROP TABLE positions; --',
    "1; TRUNCATE alerts CASCADE",
    "$$; DROP TABLE signals; $$",
    "Robert'); DROP TABLE students;--",
    "%(user_id)s",
    "%s %s %s",
    "{0} {user_id}",
    "\\x00\\'",
    "' UNION SELECT wallet_address FROM users --",
    "'; SELECT pg_sleep(10); --",
    "E'\\\\' || chr(0) || '",
]

# -- strategies ----------------------------------------------------------------------

#: Strings hypothesis finds interesting, plus the ones PostgreSQL or UTF-8 refuse.
texts = st.one_of(
    st.text(),
    st.text(min_size=1, max_size=8).map(lambda s: s + "\x00" + s),
    st.sampled_from(["\ud800", "a\udfffb", "\udbff\udc00"[::-1]]),  # lone surrogates
    st.sampled_from(["x" * 100_000, "é" * 10_001, "a" * 64, "🦄" * 65, " ", "\u202e\ufeff"]),
    st.sampled_from(INJECTIONS),
)
#: What a careless caller passes where a str is expected.
wrong_types = st.one_of(
    st.none(),
    st.integers(),
    st.booleans(),
    st.floats(),
    st.binary(max_size=4),
    st.lists(st.text(max_size=3), max_size=2),
    st.sets(st.integers(), max_size=2),
    st.builds(object),
)
strings = st.one_of(texts, wrong_types)
decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            Decimal("1e60"),
            Decimal("9.99e60"),
            Decimal("1e61"),
            Decimal("1e-60"),
            Decimal("1e-61"),
            Decimal("1e100000"),
            Decimal("-1e-100000"),
            Decimal("-0"),
            Decimal("sNaN"),
            Decimal("-Infinity"),
            Decimal("1." + "0" * 60),
            Decimal("0." + "0" * 60 + "1"),
        ]
    ),
    st.floats(),
    st.integers(),
    st.none(),
    st.text(max_size=4),
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))])
datetimes = st.one_of(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),  # naive
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=zones),
    st.text(max_size=4),
    st.integers(),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(),  # NaN and Infinity included: JSON cannot hold them
    st.decimals(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=3),
    st.builds(object),
    st.datetimes(),
)
json_keys = st.one_of(texts, st.integers(), st.none(), st.tuples(st.integers()))
documents = st.one_of(
    st.recursive(
        json_scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(json_keys, inner, max_size=3),
            st.sets(st.integers(), max_size=2),
            st.tuples(inner),
        ),
        max_leaves=8,
    ).map(lambda value: {"v": value}),
    st.dictionaries(json_keys, json_scalars, max_size=3),
    st.sampled_from([{"a": {}}, None, [], "{}", b"{}"]),
    st.integers(min_value=33, max_value=40).map(
        lambda depth: _nest(depth)  # beyond the depth limit
    ),
)


def _nest(depth: int) -> dict[str, object]:
    doc: dict[str, object] = {}
    for _ in range(depth):
        doc = {"a": doc}
    return doc


# -- the property ----------------------------------------------------------------------


def count(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - a test's own names
    assert row is not None
    return int(row[0])


def snapshot(db: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    return db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608


def alive(api: Api) -> None:
    """The API's own connection still answers, and is not stuck in a failed transaction."""
    if api.kind == "async":
        cur = api._run(api.conn.execute("SELECT 1"))
        row = api._run(cur.fetchone())
    else:
        row = api.conn.execute("SELECT 1").fetchone()
    assert row == (1,)
    assert api.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def attempt(
    api: Api, db: psycopg.Connection[Any], tables: list[str], call: Callable[[], T]
) -> T | None:
    """``call()``'s result, or None after it raised our error having written nothing.

    Any other exception propagates and fails the test.
    """
    before = {table: snapshot(db, table) for table in tables}
    try:
        result = call()
    except DefiSqlError as exc:
        message = str(exc)
        assert message, f"{type(exc).__name__} without a message"
        assert message.endswith((".", ")")), message
        assert "\n" not in message, message
        assert {table: snapshot(db, table) for table in tables} == before
        alive(api)
        return None
    alive(api)
    return result


def storable(value: object, max_length: int) -> bool:
    """Whether ``value`` is text PostgreSQL can store within ``max_length``: our oracle."""
    if not isinstance(value, str) or not value or len(value) > max_length or "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


_DECIMAL_JSON = msgspec.json.Decoder(float_hook=Decimal)


def as_json(value: object) -> object:
    """A JSON document as it reads back: numbers compared as Decimals (1e300 == 10**300)."""
    return _DECIMAL_JSON.decode(msgspec.json.encode(value))


# -- users -----------------------------------------------------------------------------


@hostile
@given(wallet=st.one_of(strings, st.from_regex(r"0x[0-9a-fA-F]{40}", fullmatch=True)))
def test_users_create_and_get_or_create(
    api: Api, db: psycopg.Connection[Any], wallet: object
) -> None:
    user = attempt(api, db, ["users"], lambda: api.users.get_or_create(wallet))
    if user is None:
        found = attempt(api, db, ["users"], lambda: api.users.find_by_wallet(wallet))
        assert found is None
        return
    assert isinstance(wallet, str)
    assert user.wallet_address == wallet.lower()
    assert api.users.find_by_wallet(wallet) == user
    assert attempt(api, db, ["users"], lambda: api.users.create(wallet_address=wallet)) is None


@hostile
@given(chat=st.one_of(strings, st.text(max_size=64)))
def test_users_set_telegram_chat(api: Api, db: psycopg.Connection[Any], chat: object) -> None:
    user_id = (
        new_user(api, 1)
        if count(db, "users") == 0
        else db.execute("SELECT id FROM users").fetchone()[0]
    )  # type: ignore[index]
    user = attempt(api, db, ["users"], lambda: api.users.set_telegram_chat(user_id, chat))
    assert (user is not None) == (chat is None or storable(chat, 64))
    if user is not None:
        assert user.telegram_chat_id == chat == api.users.get(user_id).telegram_chat_id
    created = attempt(
        api,
        db,
        ["users"],
        lambda: api.users.create(wallet_address=f"0x{uuid4().hex}{'0' * 8}", telegram_chat_id=chat),
    )
    assert (created is not None) == (user is not None)
    if created is not None:
        assert api.users.get(created.id).telegram_chat_id == chat


preferences = st.builds(
    UserPreferences,
    risk_profile=st.one_of(st.sampled_from(["conservative", "moderate", "aggressive"]), strings),
    alert_thresholds=st.one_of(
        st.none(),
        st.builds(AlertThresholds, health_factor=decimals),
        st.sampled_from([{"healthFactor": "1.5"}, "1.5"]),
    ),
    active_signals=st.one_of(st.none(), st.lists(strings, max_size=3), strings),
    notification_channels=st.one_of(
        st.none(), st.lists(st.sampled_from(["telegram", "email", "in_app"]) | strings, max_size=3)
    ),
)


@hostile
@given(patch=st.one_of(preferences, wrong_types, st.just({"riskProfile": "moderate"})))
def test_users_update_preferences(api: Api, db: psycopg.Connection[Any], patch: object) -> None:
    user_id = (
        new_user(api, 1)
        if count(db, "users") == 0
        else db.execute("SELECT id FROM users").fetchone()[0]
    )  # type: ignore[index]
    before = api.users.get(user_id).preferences
    user = attempt(api, db, ["users"], lambda: api.users.update_preferences(user_id, patch))
    if user is None:
        return
    assert isinstance(patch, UserPreferences)
    stored = api.users.get(user_id).preferences
    assert stored == user.preferences
    for field in msgspec.structs.fields(UserPreferences):
        sent = getattr(patch, field.name)
        assert getattr(stored, field.name) == (
            getattr(before, field.name) if sent is None else sent
        )
    with_preferences = attempt(
        api,
        db,
        ["users"],
        lambda: api.users.create(wallet_address=f"0x{uuid4().hex}{'0' * 8}", preferences=patch),
    )
    assert with_preferences is not None
    assert with_preferences.preferences == patch


# -- positions -------------------------------------------------------------------------

assets = st.lists(
    st.builds(Asset, symbol=strings, amount=decimals, value_usd=decimals)
    | st.sampled_from([{"symbol": "ETH"}, "ETH", None]),
    max_size=2,
)


@st.composite
def new_positions(draw: st.DrawFn, user_id: UUID) -> object:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(wrong_types | st.just({"user_id": user_id}))
    return NewPosition(
        user_id=draw(st.just(user_id) | st.sampled_from([uuid4(), str(user_id), None])),
        wallet_address=draw(st.just(WALLET) | strings),
        protocol=draw(st.sampled_from(["aave-v3", *INJECTIONS]) | strings),
        chain_id=draw(st.integers(1, 10) | st.integers() | st.sampled_from([2**63, True, "1"])),
        health_factor=draw(decimals),
        collateral=draw(assets),
        debt=draw(assets | st.none()),
        metadata=draw(documents),
        snapshot_at=draw(st.none() | datetimes),
    )


def check_position(stored: Any, sent: NewPosition) -> None:
    assert stored.user_id == sent.user_id
    assert stored.wallet_address == sent.wallet_address.lower()
    assert stored.protocol == sent.protocol
    assert stored.chain_id == sent.chain_id
    assert stored.health_factor == sent.health_factor
    assert stored.collateral == sent.collateral
    assert stored.debt == sent.debt
    assert as_json(stored.metadata) == as_json(sent.metadata)
    if sent.snapshot_at is not None:
        assert stored.snapshot_at == sent.snapshot_at


@hostile
@given(data=st.data())
def test_positions_create(api: Api, db: psycopg.Connection[Any], data: st.DataObject) -> None:
    if count(db, "users") == 0:
        api.users.create(wallet_address=WALLET)
    user_id = db.execute("SELECT id FROM users").fetchone()[0]  # type: ignore[index]
    sent = data.draw(new_positions(user_id))
    position = attempt(api, db, ["positions"], lambda: api.positions.create(sent))
    if position is None:
        return
    assert isinstance(sent, NewPosition)
    check_position(position, sent)
    check_position(
        api.positions.latest(sent.user_id)
        if sent.snapshot_at is None
        else next(p for p in api.positions.list_for_user(user_id) if p.id == position.id),
        sent,
    )


@hostile
@given(data=st.data())
def test_positions_ingest_is_all_or_nothing(
    api: Api, db: psycopg.Connection[Any], data: st.DataObject
) -> None:
    if count(db, "users") == 0:
        api.users.create(wallet_address=WALLET)
    user_id = db.execute("SELECT id FROM users").fetchone()[0]  # type: ignore[index]
    good = NewPosition(user_id=user_id, wallet_address=WALLET, protocol="aave-v3")
    sent = [good, data.draw(new_positions(user_id)), good]
    form = data.draw(st.sampled_from(["list", "iterator", "tuple", "wrong"]))
    forms: dict[str, object] = {"list": sent, "iterator": iter(sent), "tuple": tuple(sent)}
    batch = forms[form] if form in forms else data.draw(wrong_types)
    before = count(db, "positions")
    written = attempt(api, db, ["positions"], lambda: api.positions.ingest(batch))
    if written is None:
        return
    assert written == count(db, "positions") - before
    if form == "wrong":
        assert written == 0  # an empty iterable of the wrong type ([], b"", set())
        return
    assert written == 3
    middle = sent[1]
    assert isinstance(middle, NewPosition)
    stored = api.positions.list_for_user(user_id)
    assert any(
        p.protocol == middle.protocol and as_json(p.metadata) == as_json(middle.metadata)
        for p in stored
    )


@hostile
@given(
    wallet=strings | st.just(WALLET),
    protocol=strings,
    limit=st.integers() | wrong_types,
    since=datetimes,
    until=datetimes,
)
def test_positions_reads(
    api: Api, wallet: object, protocol: object, limit: object, since: object, until: object
) -> None:
    rows = attempt(
        api, api_db(api), [], lambda: api.positions.list_for_wallet(wallet, protocol, limit=limit)
    )
    assert rows is None or rows == []
    found = attempt(api, api_db(api), [], lambda: api.positions.history(uuid4(), since, until))
    assert found is None or (found.snapshots, found.days) == ([], [])
    rows = attempt(api, api_db(api), [], lambda: api.positions.at_risk(default_threshold=limit))
    assert rows is None or rows == []


def api_db(api: Api) -> Any:
    """Nothing to count for reads: a stand-in ``db`` for :func:`attempt`."""
    return None


# -- signals, alerts, intents -------------------------------------------------------------


@hostile
@given(
    type_=strings,
    asset=strings,
    severity=st.sampled_from(["low", "critical"]) | strings,
    data=documents,
    detected_at=st.none() | datetimes,
    expires_at=st.none() | datetimes,
)
def test_signals_create_and_read(
    api: Api,
    db: psycopg.Connection[Any],
    type_: object,
    asset: object,
    severity: object,
    data: object,
    detected_at: object,
    expires_at: object,
) -> None:
    def create() -> Any:
        return api.signals.create(
            type=type_,
            asset=asset,
            severity=severity,
            data=data,
            detected_at=detected_at,
            expires_at=expires_at,
        )

    signal = attempt(api, db, ["signals"], create)
    if signal is None:
        for read in (
            lambda: api.signals.active_for_asset(asset),
            lambda: api.signals.recent_by_type(type_),
        ):
            attempt(api, db, ["signals"], read)
        return
    assert storable(type_, 64) and storable(asset, 64)
    assert (signal.type, signal.asset, signal.severity) == (type_, asset, severity)
    assert as_json(signal.data) == as_json({} if data is None else data)
    assert api.signals.get(signal.id) == signal
    assert signal in api.signals.recent_by_type(type_, limit=1000)


@hostile
@given(
    type_=strings, channel=st.sampled_from(["email"]) | strings, message=strings, metadata=documents
)
def test_alerts_create(
    api: Api,
    db: psycopg.Connection[Any],
    type_: object,
    channel: object,
    message: object,
    metadata: object,
) -> None:
    if count(db, "users") == 0:
        api.users.create(wallet_address=WALLET)
    user_id = db.execute("SELECT id FROM users").fetchone()[0]  # type: ignore[index]

    def create() -> Any:
        return api.alerts.create(
            user_id=user_id, type=type_, channel=channel, message=message, metadata=metadata
        )

    alert = attempt(api, db, ["alerts"], create)
    if alert is None:
        return
    assert storable(type_, 64) and storable(message, 10_000)
    assert (alert.type, alert.channel, alert.message) == (type_, channel, message)
    assert as_json(alert.metadata) == as_json({} if metadata is None else metadata)
    assert api.alerts.get(alert.id) == alert


@hostile
@given(
    operator=st.sampled_from(["<", ">="]) | strings,
    value=decimals,
    action_type=st.sampled_from(["repay", "notify"]) | strings,
    action_asset=st.none() | strings,
    amount=decimals,
    protocol=st.none() | strings,
    chain_id=st.none() | st.integers() | wrong_types,
    expires_at=st.none() | datetimes,
    whole=st.sampled_from([None, "condition", "action"]),
)
def test_intents_create(
    api: Api,
    db: psycopg.Connection[Any],
    operator: object,
    value: object,
    action_type: object,
    action_asset: object,
    amount: object,
    protocol: object,
    chain_id: object,
    expires_at: object,
    whole: str | None,
) -> None:
    if count(db, "users") == 0:
        api.users.create(wallet_address=WALLET)
    user_id = db.execute("SELECT id FROM users").fetchone()[0]  # type: ignore[index]
    condition: object = IntentCondition(operator=operator, value=value)  # type: ignore[arg-type]
    action: object = IntentAction(type=action_type, asset=action_asset, amount=amount)  # type: ignore[arg-type]
    if whole == "condition":
        condition = {"operator": "<", "value": "1"}
    elif whole == "action":
        action = "repay"

    def create() -> Any:
        return api.intents.create(
            user_id=user_id,
            condition=condition,
            action=action,
            protocol=protocol,
            chain_id=chain_id,
            expires_at=expires_at,
        )

    intent = attempt(api, db, ["intents"], create)
    if intent is None:
        return
    assert (intent.condition, intent.action) == (condition, action)
    assert (intent.protocol, intent.chain_id) == (protocol, chain_id)
    assert api.intents.get(intent.id) == intent


# -- events -----------------------------------------------------------------------------

new_events = st.builds(
    NewEvent,
    event_type=st.sampled_from(["PositionOpened"]) | strings,
    payload=documents,
    metadata=documents,
    event_id=st.none() | st.uuids() | st.sampled_from(["not-a-uuid", 1]),
    occurred_at=st.none() | datetimes,
)


@hostile
@given(
    stream_type=st.sampled_from(["position"]) | strings,
    events=st.lists(new_events | wrong_types, max_size=3) | wrong_types,
    expected=st.integers(min_value=-1, max_value=2**31) | wrong_types,
    after=st.integers() | wrong_types,
)
def test_events_append_and_read(
    api: Api,
    db: psycopg.Connection[Any],
    stream_type: object,
    events: object,
    expected: object,
    after: object,
) -> None:
    stream_id = uuid4()
    tables = ["event_store", "event_store_archive"]
    appended = attempt(
        api,
        db,
        tables,
        lambda: api.events.append(
            stream_type=stream_type, stream_id=stream_id, expected_version=expected, events=events
        ),
    )
    if appended is not None:
        assert isinstance(events, list)
        assert [(e.event_type, as_json(e.payload), as_json(e.metadata)) for e in appended] == [
            (e.event_type, as_json(e.payload), as_json(e.metadata)) for e in events
        ]
        assert all(e.stream_type == stream_type for e in appended)
        if expected == 0:
            assert api.events.read_stream(stream_id) == appended
    read = attempt(api, db, tables, lambda: api.events.read_stream(stream_id, after_version=after))
    assert read is None or isinstance(read, list)
    read = attempt(api, db, tables, lambda: api.events.read_all_after(after))
    assert read is None or isinstance(read, list)


# -- SQL injection, explicitly -----------------------------------------------------------


@pytest.mark.parametrize("text", INJECTIONS)
def test_sql_injection_strings_are_stored_verbatim(
    api: Api, db: psycopg.Connection[Any], text: str
) -> None:
    user = api.users.create(wallet_address=WALLET, telegram_chat_id=text)
    assert api.users.get(user.id).telegram_chat_id == text
    signal = api.signals.create(type=text, asset=text, severity="low", data={text: text})
    assert api.signals.active_for_asset(text) == [signal]
    assert api.signals.recent_by_type(text) == [signal]
    assert (signal.type, signal.asset, signal.data) == (text, text, {text: text})
    alert = api.alerts.create(user_id=user.id, type=text, channel="email", message=text)
    assert api.alerts.get(alert.id).message == text
    position = api.positions.create(
        NewPosition(user_id=user.id, wallet_address=WALLET, protocol=text, metadata={text: text})
    )
    assert api.positions.list_for_wallet(WALLET, text) == [position]
    assert (
        api.positions.ingest([NewPosition(user_id=user.id, wallet_address=WALLET, protocol=text)])
        == 1
    )
    stream_id = uuid4()
    [event] = api.events.append(
        stream_type=text,
        stream_id=stream_id,
        expected_version=0,
        events=[NewEvent(event_type=text, payload={text: text})],
    )
    assert api.events.read_stream(stream_id) == [event]
    assert (event.stream_type, event.event_type, event.payload) == (text, text, {text: text})
    tables = ["users", "positions", "signals", "alerts", "event_store"]
    assert [count(db, table) for table in tables] == [1, 2, 1, 1, 1]


# -- inside the caller's transaction -------------------------------------------------------


@hostile
@given(
    bad=st.one_of(
        strings.filter(lambda v: not storable(v, 64)).map(lambda v: ("type", v)),
        documents.map(lambda v: ("data", v)),
        datetimes.map(lambda v: ("expires_at", v)),
    )
)
def test_a_refused_write_keeps_the_callers_transaction(
    db_url: str, bad: tuple[str, object]
) -> None:
    """A typed refusal inside ``transaction()`` leaves it usable: the rest still commits."""
    field, value = bad
    with psycopg.connect(db_url) as conn:  # not autocommit: the caller's transaction
        before = count(conn, "signals")
        conn.commit()
        kwargs: dict[str, Any] = {"type": "t", "asset": "ETH", "severity": "low", field: value}
        with sync.transaction(conn):
            first = sync.signals.create(conn, type="t", asset="ETH", severity="low")
            try:
                refused = sync.signals.create(conn, **kwargs)
            except DefiSqlError as exc:
                assert str(exc)
                refused = None
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            last = sync.signals.create(conn, type="t", asset="ETH", severity="high")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        stored = {row[0] for row in conn.execute("SELECT id FROM signals").fetchall()}
        conn.commit()
        expected = {first.id, last.id} | (set() if refused is None else {refused.id})
        assert stored >= expected
        assert count(conn, "signals") == before + len(expected)
