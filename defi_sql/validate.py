"""Argument checks that run before anything is written."""

from __future__ import annotations

import re
from decimal import Decimal

from defi_sql.errors import InvalidInput

__all__ = ["decimal", "text", "wallet_address"]

_WALLET = re.compile(r"0x[0-9a-f]{40}")


def wallet_address(value: object) -> str:
    """A wallet address normalised to lower case, or :class:`InvalidInput`."""
    if not isinstance(value, str):
        raise InvalidInput(f"a wallet address must be a string, not {type(value).__name__}.")
    normalised = value.lower()
    if not _WALLET.fullmatch(normalised):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidInput(f"wallet address {shown!r} is not 0x followed by 40 hexadecimal digits.")
    return normalised


def text(value: object, what: str, *, max_length: int = 10_000) -> str:
    """A non-empty string without NUL bytes (PostgreSQL refuses them in text)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, not {type(value).__name__}.")
    if not value:
        raise InvalidInput(f"{what} must not be empty.")
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL byte, which PostgreSQL cannot store.")
    if len(value) > max_length:
        raise InvalidInput(f"{what} is longer than {max_length} characters.")
    return value


def decimal(value: object, what: str, *, minimum: Decimal | None = None) -> Decimal:
    """A finite Decimal (no NaN or Infinity), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise InvalidInput(f"{what} must be a Decimal, not {type(value).__name__}.")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise InvalidInput(f"{what} {value!r} is not a decimal number.") from None
    if not number.is_finite():
        raise InvalidInput(f"{what} must be a finite number, not {number}.")
    if minimum is not None and number < minimum:
        raise InvalidInput(f"{what} must be at least {minimum}, not {number}.")
    return number
