"""Argument checks that run before anything is written."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import get_args
from uuid import UUID

import msgspec

from defi_sql.errors import InvalidInput
from defi_sql.models import (
    AlertChannel,
    AlertThresholds,
    Asset,
    NewPosition,
    RiskProfile,
    Row,
    UserPreferences,
)

__all__ = [
    "assets",
    "aware",
    "chain_id",
    "choice",
    "decimal",
    "document",
    "duration",
    "expected",
    "natural",
    "new_position",
    "plainly_valid_position",
    "positive_int",
    "preferences",
    "storable",
    "text",
    "uuid",
    "wallet_address",
]

_WALLET = re.compile(r"0x[0-9a-f]{40}")
#: The standard library's types that messages name, and the module each is imported from.
_STANDARD_MODULES: dict[type, str] = {
    Decimal: "decimal",
    UUID: "uuid",
    datetime: "datetime",
    timedelta: "datetime",
}
#: Decimals beyond 10**±60 are no amount or ratio, and would only strain ``numeric``.
DECIMAL_DIGITS = 60


@functools.cache
def expected(cls: type) -> str:
    """``cls`` as a message names it: where to import it from and, for a struct a
    caller builds, its fields (required ones first), so the fix needs no search.

    ``IntentCondition (from defi_sql.models import IntentCondition; fields:
    operator, value, metric)``; ``Decimal (from decimal import Decimal)``.
    """
    module = _STANDARD_MODULES.get(cls, cls.__module__)
    where = f"from {module} import {cls.__name__}"
    if issubclass(cls, msgspec.Struct) and not issubclass(cls, Row):
        fields = msgspec.structs.fields(cls)
        names = [f.name for f in fields if f.required] + [f.name for f in fields if not f.required]
        where += f"; fields: {', '.join(names)}"
    return f"{cls.__name__} ({where})"


def wallet_address(value: object) -> str:
    """A wallet address normalised to lower case, or :class:`InvalidInput`."""
    if not isinstance(value, str):
        raise InvalidInput(f"a wallet address must be a string, not {type(value).__name__}.")
    normalised = value.lower()
    if not _WALLET.fullmatch(normalised):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidInput(f"wallet address {shown!r} is not 0x followed by 40 hexadecimal digits.")
    return normalised


def storable(value: str) -> bool:
    """True when PostgreSQL can store ``value``: no NUL byte, no lone surrogate."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unstorable(value: str, what: str) -> InvalidInput:
    if "\x00" in value:
        return InvalidInput(f"{what} contains a NUL byte, which PostgreSQL cannot store.")
    return InvalidInput(
        f"{what} contains a lone surrogate (U+D800 to U+DFFF), which is not valid Unicode."
    )


def text(value: object, what: str, *, max_length: int = 10_000) -> str:
    """A non-empty string without NUL bytes (PostgreSQL refuses them in text) or lone surrogates."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, not {type(value).__name__}.")
    if not value:
        raise InvalidInput(f"{what} must not be empty.")
    if not storable(value):
        raise _unstorable(value, what)
    if len(value) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters.")
    return value


def decimal(value: object, what: str, *, minimum: Decimal | None = None) -> Decimal:
    """A finite Decimal (no NaN or Infinity), at least ``minimum`` when given.

    Only ``Decimal`` is accepted: a float has already lost precision, and a
    string would be a second spelling of the same field.
    """
    if not isinstance(value, Decimal):
        raise InvalidInput(f"{what} must be a {expected(Decimal)}, not {type(value).__name__}.")
    if not value.is_finite():
        raise InvalidInput(f"{what} must be a finite number, not {value}.")
    if value and not -DECIMAL_DIGITS <= value.adjusted() <= DECIMAL_DIGITS:
        raise InvalidInput(
            f"{what} {value:.3e} is out of range: keep it within 1e-{DECIMAL_DIGITS} "
            f"and 1e{DECIMAL_DIGITS}."
        )
    if value.as_tuple().exponent < -DECIMAL_DIGITS:  # type: ignore[operator]
        raise InvalidInput(f"{what} has more than {DECIMAL_DIGITS} decimal places.")
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{what} must be at least {minimum}, not {value}.")
    return value


def positive_int(value: object, what: str, *, maximum: int = 2**31 - 1) -> int:
    """An integer from 1 to ``maximum`` (by default the largest ``integer``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, not {type(value).__name__}.")
    if not 0 < value <= maximum:
        raise InvalidInput(f"{what} must be between 1 and {maximum}, not {value}.")
    return value


#: The largest chain id: JavaScript's Number.MAX_SAFE_INTEGER, so that the
#: TypeScript app reads every chain id exactly (positions_chain_id_safe_integer_check).
MAX_CHAIN_ID = 2**53 - 1


def chain_id(value: object) -> int:
    """An EIP-155 chain id: 1 to 2**53 - 1 (Palm's 11297108109 is beyond 2**31)."""
    return positive_int(value, "chain_id", maximum=MAX_CHAIN_ID)


def natural(value: object, what: str, *, maximum: int = 2**63 - 1) -> int:
    """An integer from 0 to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, not {type(value).__name__}.")
    if value < 0:
        raise InvalidInput(f"{what} must be 0 or more, not {value}.")
    if value > maximum:
        raise InvalidInput(f"{what} must be at most {maximum}, not {value}.")
    return value


def duration(value: object, what: str, *, maximum: timedelta) -> timedelta:
    """A timedelta above zero and at most ``maximum``."""
    if not isinstance(value, timedelta):
        raise InvalidInput(f"{what} must be a {expected(timedelta)}, not {type(value).__name__}.")
    if not timedelta(0) < value <= maximum:
        raise InvalidInput(f"{what} must be above zero and at most {maximum}, not {value}.")
    return value


def uuid(value: object, what: str) -> UUID:
    if not isinstance(value, UUID):
        raise InvalidInput(f"{what} must be a {expected(UUID)}, not {type(value).__name__}.")
    return value


def aware(value: object, what: str) -> datetime:
    """A timezone-aware datetime (a naive one is ambiguous: which zone?)."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a {expected(datetime)}, not {type(value).__name__}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{what} must be timezone-aware (e.g. datetime.now(UTC)), not naive.")
    return value


def assets(value: object, what: str) -> list[Asset]:
    if not isinstance(value, list):
        raise InvalidInput(
            f"{what} must be a list of {expected(Asset)}, not {type(value).__name__}."
        )
    for index, asset in enumerate(value):
        if not isinstance(asset, Asset):
            raise InvalidInput(
                f"{what}[{index}] must be an {expected(Asset)}, not {type(asset).__name__}."
            )
        text(asset.symbol, f"{what}[{index}].symbol", max_length=64)
        decimal(asset.amount, f"{what}[{index}].amount", minimum=Decimal(0))
        decimal(asset.value_usd, f"{what}[{index}].value_usd", minimum=Decimal(0))
    return value


_SCALARS = (str, int, bool, type(None), Decimal, UUID, datetime)
#: Floats below this (in magnitude) read back from a JSON document exactly: their
#: shortest form has a decimal point, which PostgreSQL's numeric keeps. From 1e16
#: on it is an exponent ("1e+23"), which comes back as an integer of other value.
FLOAT_EXACT_BELOW = 1e16
MAX_DEPTH = 32


def _json_value(value: object, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInput(f"{where} is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{where} has a key that is not a string: {key!r}.")
            if not storable(key):
                raise _unstorable(key, f"a key of {where}")
            _json_value(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _json_value(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput(f"{where} is {value}, which JSON cannot hold.")
        if abs(value) >= FLOAT_EXACT_BELOW:
            raise InvalidInput(
                f"{where} is the float {value!r}, which would not read back exactly "
                "(PostgreSQL keeps JSON numbers as decimals, so it would come back as the "
                f"int {int(Decimal(repr(value)))}); pass an int or a Decimal."
            )
    elif isinstance(value, str):
        if not storable(value):
            raise _unstorable(value, where)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(f"{where} is {value}, which JSON cannot hold.")
    elif not isinstance(value, _SCALARS):
        raise InvalidInput(f"{where} holds a {type(value).__name__}, which is not JSON.")


def document(value: object, what: str) -> dict[str, object]:
    """A JSON object: string keys, JSON values, finite numbers, no NUL, bounded depth."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a dict, not {type(value).__name__}.")
    _json_value(value, what, 1)
    return value


def new_position(value: object) -> NewPosition:
    """Check every field of a snapshot to record."""
    if not isinstance(value, NewPosition):
        raise InvalidInput(
            f"a snapshot must be a {expected(NewPosition)}, not {type(value).__name__}."
        )
    uuid(value.user_id, "user_id")
    wallet_address(value.wallet_address)
    text(value.protocol, "protocol", max_length=64)
    chain_id(value.chain_id)
    if value.health_factor is not None:
        decimal(value.health_factor, "health_factor", minimum=Decimal(0))
    assets(value.collateral, "collateral")
    assets(value.debt, "debt")
    document(value.metadata, "metadata")
    if value.snapshot_at is not None:
        aware(value.snapshot_at, "snapshot_at")
    return value


def _string_list(value: object, what: str, allowed: tuple[str, ...] | None) -> None:
    if not isinstance(value, list):
        raise InvalidInput(f"{what} must be a list, not {type(value).__name__}.")
    for index, item in enumerate(value):
        if allowed is None:
            text(item, f"{what}[{index}]", max_length=128)
        else:
            choice(item, f"{what}[{index}]", allowed)


def preferences(value: object) -> UserPreferences:
    """Check every key of a user's preferences document."""
    if not isinstance(value, UserPreferences):
        raise InvalidInput(
            f"preferences must be a {expected(UserPreferences)}, not {type(value).__name__}."
        )
    if value.risk_profile is not None:
        choice(value.risk_profile, "preferences.risk_profile", get_args(RiskProfile))
    thresholds = value.alert_thresholds
    if thresholds is not None:
        if not isinstance(thresholds, AlertThresholds):
            raise InvalidInput(
                f"preferences.alert_thresholds must be an {expected(AlertThresholds)}, "
                f"not {type(thresholds).__name__}."
            )
        if thresholds.health_factor is not None:
            decimal(
                thresholds.health_factor,
                "preferences.alert_thresholds.health_factor",
                minimum=Decimal(0),
            )
    if value.active_signals is not None:
        _string_list(value.active_signals, "preferences.active_signals", None)
    if value.notification_channels is not None:
        _string_list(
            value.notification_channels,
            "preferences.notification_channels",
            get_args(AlertChannel),
        )
    return value


def choice(value: object, what: str, allowed: tuple[str, ...]) -> str:
    """One of ``allowed`` (the values of a Literal type)."""
    if value not in allowed:
        raise InvalidInput(f"{what} must be one of {', '.join(allowed)}; not {value!r}.")
    return str(value)


_BELOW = Decimal(10) ** (DECIMAL_DIGITS + 1)
_FLAT_JSON = (int, bool, type(None))


def _plain_decimal(value: object) -> bool:
    return (
        type(value) is Decimal
        and 0 <= value < _BELOW
        and value.as_tuple().exponent >= -DECIMAL_DIGITS  # type: ignore[operator]
    )


def _plain_assets(values: object) -> bool:
    if type(values) is not list:
        return False
    for asset in values:
        if type(asset) is not Asset or not _plain_decimal(asset.amount):
            return False
        symbol = asset.symbol
        if not _plain_decimal(asset.value_usd) or type(symbol) is not str:
            return False
        if not 0 < len(symbol) <= 64 or not storable(symbol):
            return False
    return True


def plainly_valid_position(value: object) -> bool:
    """True only when :func:`new_position` accepts ``value``, in a fraction of its time.

    The bulk ingest's fast path: common, flat snapshots pass here; anything
    else (a nested metadata document, an odd Decimal, a wrong type) goes to
    :func:`new_position`, which accepts it or says exactly what is wrong.
    """
    try:
        if type(value) is not NewPosition or type(value.user_id) is not UUID:
            return False
        protocol, chain = value.protocol, value.chain_id
        if type(protocol) is not str or not 0 < len(protocol) <= 64 or not storable(protocol):
            return False
        if type(chain) is not int or not 0 < chain <= MAX_CHAIN_ID:
            return False
        wallet = value.wallet_address
        if type(wallet) is not str or not _WALLET.fullmatch(wallet.lower()):
            return False
        health = value.health_factor
        if health is not None and not _plain_decimal(health):
            return False
        if not _plain_assets(value.collateral) or not _plain_assets(value.debt):
            return False
        metadata = value.metadata
        if type(metadata) is not dict:
            return False
        for key, item in metadata.items():
            if type(key) is not str or not storable(key):
                return False
            if type(item) is str:
                if not storable(item):
                    return False
            elif type(item) not in _FLAT_JSON:
                return False
        at = value.snapshot_at
        return at is None or (type(at) is datetime and at.utcoffset() is not None)
    except ArithmeticError:  # comparing a NaN Decimal
        return False
