"""Users: create, find, sign in, preferences, Telegram, delete, preload positions.

Generated from defi_sql/aio/users.py by tools/async_to_sync.py: do not edit.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.types.json import Jsonb

from defi_sql import validate
from defi_sql.errors import NotFound
from defi_sql.models import Position, User, UserPreferences, UserWithPositions
from defi_sql.rows import encode_json
from defi_sql.sync._execute import execute, fetch_all, fetch_one, write_one

__all__ = [
    "create",
    "delete",
    "find_by_wallet",
    "get",
    "get_or_create",
    "get_with_positions",
    "set_telegram_chat",
    "update_preferences",
]


def _preferences(value: object) -> Jsonb:
    return Jsonb(validate.preferences(value), dumps=lambda v: encode_json(v, numbers=True))


def _chat_id(value: object) -> str | None:
    return None if value is None else validate.text(value, "telegram_chat_id", max_length=64)


def _found(user: User | None, user_id: UUID) -> User:
    if user is None:
        raise NotFound(f"no user with id {user_id}.")
    return user


def create(
    conn: Connection[Any],
    *,
    wallet_address: str,
    preferences: UserPreferences | None = None,
    telegram_chat_id: str | None = None,
) -> User:
    """Create a user; :class:`Conflict` when the wallet already has one."""
    params = {
        "wallet_address": validate.wallet_address(wallet_address),
        "preferences": _preferences(preferences or UserPreferences()),
        "telegram_chat_id": _chat_id(telegram_chat_id),
    }
    user = write_one(conn, "users_create", params, User)
    assert user is not None  # INSERT ... RETURNING always returns the row
    return user


def get(conn: Connection[Any], user_id: UUID) -> User:
    """The user with this id; :class:`NotFound` otherwise."""
    return _found(
        fetch_one(conn, "users_get", {"user_id": validate.uuid(user_id, "user_id")}, User),
        user_id,
    )


def find_by_wallet(conn: Connection[Any], wallet_address: str) -> User | None:
    """The user of this wallet (any letter case), or None."""
    address = validate.wallet_address(wallet_address)
    return fetch_one(conn, "users_find_by_wallet", {"wallet_address": address}, User)


def get_or_create(conn: Connection[Any], wallet_address: str) -> User:
    """Idempotent sign-in: the wallet's user, created with default preferences if missing."""
    address = validate.wallet_address(wallet_address)
    for _attempt in range(3):
        user = write_one(conn, "users_get_or_create", {"wallet_address": address}, User)
        if user is not None:
            return user
        # A concurrent sign-in inserted the row after this statement's snapshot
        # was taken; the next statement sees it.
    raise NotFound(f"the user of {address} vanished while signing in; try again.")


def update_preferences(conn: Connection[Any], user_id: UUID, patch: UserPreferences) -> User:
    """Merge ``patch`` into the stored preferences: the keys it sets replace the stored ones."""
    params = {"user_id": validate.uuid(user_id, "user_id"), "patch": _preferences(patch)}
    return _found(write_one(conn, "users_update_preferences", params, User), user_id)


def set_telegram_chat(conn: Connection[Any], user_id: UUID, telegram_chat_id: str | None) -> User:
    """Link the user's Telegram chat, or unlink it with None."""
    params = {
        "user_id": validate.uuid(user_id, "user_id"),
        "telegram_chat_id": _chat_id(telegram_chat_id),
    }
    return _found(write_one(conn, "users_set_telegram_chat", params, User), user_id)


def delete(conn: Connection[Any], user_id: UUID) -> None:
    """Delete the user with their positions, alerts and intents; :class:`NotFound` if absent."""
    if execute(conn, "users_delete", {"user_id": validate.uuid(user_id, "user_id")}) == 0:
        raise NotFound(f"no user with id {user_id}.")


def get_with_positions(conn: Connection[Any], user_id: UUID) -> UserWithPositions:
    """The user and all their position snapshots, newest first: two queries, no N+1."""
    user = get(conn, user_id)
    positions = fetch_all(
        conn, "positions_list_for_user", {"user_id": validate.uuid(user_id, "user_id")}, Position
    )
    return UserWithPositions(user=user, positions=positions)
