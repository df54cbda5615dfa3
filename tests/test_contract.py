"""`defi-sql check`'s contract: the JSON documents' Literals and the CHECKs that
hold their keys agree, on a real migrated database, with the exact report."""

from __future__ import annotations

import importlib
import types
from pathlib import Path
from typing import Any, ClassVar, Literal

import msgspec
import psycopg
import pytest

from defi_sql import models
from defi_sql.check.contract import Breach, document_breaches, json_key_bindings

from .conftest import FIXTURES, REPO, Server, cli

MODELS = REPO / "defi_sql" / "models.py"
BAD = FIXTURES / "contract" / "models.py"
THINGS = FIXTURES / "contract" / "things.py"
NO_CHECK = "add a CHECK in a migration (see 0016)."
WIDEN = "drop them from the Literal, or widen the CHECK in a migration."
NARROW = "add them to the Literal (or narrow the CHECK in a migration)."
RISK = "UserPreferences.risk_profile is Literal['aggressive', 'conservative', 'moderate'] | None"
CHANNELS = (
    "UserPreferences.notification_channels is list[Literal['email', 'in_app', 'telegram']] | None"
)
METRIC = "IntentCondition.metric is Literal['healthFactor']"
OPERATOR = "IntentCondition.operator is Literal['<', '<=', '>', '>=']"
ACTION = "IntentAction.type is Literal['deposit', 'notify', 'repay', 'withdraw']"


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # problems name files relative to the working directory


def _line(path: Path, start: str) -> str:
    """``file:line`` of the one line of ``path`` that starts with ``start``."""
    lines = path.read_text().splitlines()
    (number,) = [n for n, line in enumerate(lines, 1) if line.startswith(start)]
    return f"{path.relative_to(REPO)}:{number}"


def test_the_real_models_keep_the_contract(shared_db: psycopg.Connection[Any]) -> None:
    assert document_breaches(shared_db, models) == []


def test_each_way_a_literal_is_off_is_reported(shared_db: psycopg.Connection[Any]) -> None:
    bad = importlib.import_module("tests.fixtures.contract.models")
    assert document_breaches(shared_db, bad) == [
        Breach(
            _line(BAD, "    risk_profile:"),
            "Preferences.risk_profile is Literal['conservative', 'moderate'] | None; the CHECK "
            "users_preferences_risk_profile_check also allows 'aggressive' in "
            f"users.preferences->'riskProfile', {NARROW}",
        ),
        Breach(
            _line(BAD, "    notification_channels:"),
            "Preferences.notification_channels is "
            "list[Literal['email', 'in_app', 'sms', 'telegram']] | None but the CHECK "
            "users_preferences_notification_channels_check forbids 'sms' in "
            f"users.preferences->'notificationChannels'; {WIDEN}",
        ),
        Breach(
            _line(BAD, "    active_signals:"),
            "Preferences.active_signals is list[Literal['depeg', 'liquidation']] | None but the "
            "database does not hold users.preferences->'activeSignals' to the Literal's values; "
            f"{NO_CHECK}",
        ),
    ]


# (what is done to the migrated schema, the breaches of the real models it causes)
CHANGED_CHECKS = [
    pytest.param(
        ["ALTER TABLE users DROP CONSTRAINT users_preferences_risk_profile_check"],
        [
            (
                "    risk_profile:",
                f"{RISK} but the database does not hold users.preferences->'riskProfile' to "
                f"the Literal's values; {NO_CHECK}",
            )
        ],
        id="dropped",
    ),
    pytest.param(
        [
            "ALTER TABLE users DROP CONSTRAINT users_preferences_risk_profile_check",
            "ALTER TABLE users ADD CONSTRAINT users_preferences_risk_profile_check CHECK "
            "(preferences ->> 'riskProfile' IN ('conservative', 'moderate', 'aggressive', "
            "'degen'))",
        ],
        [
            (
                "    risk_profile:",
                f"{RISK}; the CHECK users_preferences_risk_profile_check also allows 'degen' in "
                f"users.preferences->'riskProfile', {NARROW}",
            )
        ],
        id="widened",
    ),
    pytest.param(
        [
            "ALTER TABLE users ADD CONSTRAINT users_risk_profile_narrow_check CHECK "
            "(preferences ->> 'riskProfile' IN ('conservative', 'moderate'))"
        ],
        [
            (
                "    risk_profile:",
                f"{RISK} but the CHECK users_risk_profile_narrow_check forbids 'aggressive' in "
                f"users.preferences->'riskProfile'; {WIDEN}",
            )
        ],
        id="narrowed-by-a-second-check",
    ),
    pytest.param(
        [
            "ALTER TABLE users DROP CONSTRAINT users_preferences_risk_profile_check",
            "ALTER TABLE users ADD CONSTRAINT users_preferences_risk_profile_check CHECK "
            "(preferences ->> 'riskProfile' IN ('conservative', 'moderate', 'aggressive') "
            "OR preferences ? 'legacy')",
        ],
        [
            (
                "    risk_profile:",
                f"{RISK} but the database does not hold users.preferences->'riskProfile' to "
                f"the Literal's values; {NO_CHECK}",
            )
        ],
        id="weakened-by-or",
    ),
    pytest.param(
        [
            "ALTER TABLE users DROP CONSTRAINT users_preferences_notification_channels_check",
            "ALTER TABLE users ADD CONSTRAINT users_preferences_notification_channels_check "
            "CHECK (preferences -> 'notificationChannels' <@ '[\"telegram\", \"email\"]')",
        ],
        [
            (
                "    notification_channels:",
                f"{CHANNELS} but the CHECK users_preferences_notification_channels_check "
                "forbids 'in_app' in users.preferences->'notificationChannels'; " + WIDEN,
            )
        ],
        id="list-narrowed",
    ),
    pytest.param(
        [
            "ALTER TABLE intents DROP CONSTRAINT intents_condition_shape_check",
            "ALTER TABLE intents ADD CONSTRAINT intents_condition_shape_check CHECK ("
            "coalesce(condition ->> 'operator', '') IN ('<', '<=', '>', '>=', '=') "
            "AND coalesce(condition -> 'metric', '\"ltv\"') = '\"ltv\"')",
        ],
        [
            (
                "    metric:",
                f"{METRIC} but the CHECK intents_condition_shape_check forbids 'healthFactor' in "
                f"intents.condition->'metric'; {WIDEN}",
            ),
            (
                "    metric:",
                f"{METRIC}; the CHECK intents_condition_shape_check also allows 'ltv' in "
                f"intents.condition->'metric', {NARROW}",
            ),
            (
                "    operator:",
                f"{OPERATOR}; the CHECK intents_condition_shape_check also allows '=' in "
                f"intents.condition->'operator', {NARROW}",
            ),
        ],
        id="coalesced-keys-changed",
    ),
    pytest.param(
        [
            "ALTER TABLE intents DROP CONSTRAINT intents_action_shape_check",
            "ALTER TABLE intents ADD CONSTRAINT intents_action_shape_check CHECK ("
            "action -> 'type' IN ('\"repay\"', '\"deposit\"', '\"withdraw\"'))",
        ],
        [
            (
                '    type: Literal["repay"',
                f"{ACTION} but the CHECK intents_action_shape_check forbids 'notify' in "
                f"intents.action->'type'; {WIDEN}",
            ),
        ],
        id="jsonb-values",
    ),
]


@pytest.mark.parametrize(("statements", "expected"), CHANGED_CHECKS)
def test_a_changed_check_is_reported(
    db: psycopg.Connection[Any], statements: list[str], expected: list[tuple[str, str]]
) -> None:
    for statement in statements:
        db.execute(statement)
    assert document_breaches(db, models) == [
        Breach(_line(MODELS, start), message) for start, message in expected
    ]


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    theme: Literal["dark", "light"] | None = None


class Profile(msgspec.Struct, kw_only=True, frozen=True):
    table: ClassVar[str] = "users"

    settings: Settings | None


def test_a_document_without_its_column_is_reported(shared_db: psycopg.Connection[Any]) -> None:
    module = types.ModuleType("profiles")
    module.Profile = Profile  # type: ignore[attr-defined]
    assert document_breaches(shared_db, module) == [
        Breach(
            _line(Path(__file__), "    settings:"),
            "Profile.settings is a Settings document but table users has no column settings; "
            "correct Profile.table, or add the column in a migration.",
        )
    ]


def _check(body: str, flags: str = "") -> str:
    return f"CHECK ({body}){flags}"


# CHECK definitions as PostgreSQL 16 and 18 render them -> the (column, key) values they bind
BINDINGS = [
    pytest.param(
        _check(
            "((preferences ->> 'riskProfile'::text) = ANY (ARRAY['conservative'::text, "
            "'moderate'::text, 'aggressive'::text]))"
        ),
        [(("preferences", "riskProfile"), ("conservative", "moderate", "aggressive"))],
        id="any-text",
    ),
    pytest.param(
        _check("((d ->> 'k'::text) = 'it''s'::text)", " NOT VALID"),
        [(("d", "k"), ("it's",))],
        id="one-text-not-valid",
    ),
    pytest.param(
        _check(
            "((d -> 'k'::text) = ANY (ARRAY['\"x\"'::jsonb, '\"y''s\"'::jsonb, '2'::jsonb]))",
            " NO INHERIT",
        ),
        [(("d", "k"), ("x", "y's", 2))],
        id="any-jsonb",
    ),
    pytest.param(
        _check(
            "\nCASE jsonb_typeof((preferences -> 'notificationChannels'::text))\n"
            "    WHEN 'array'::text THEN ((preferences -> 'notificationChannels'::text) <@ "
            '\'["telegram", "email", "in_app"]\'::jsonb)\n'
            "    ELSE (COALESCE(jsonb_typeof((preferences -> 'notificationChannels'::text)), "
            "'null'::text) = 'null'::text)\nEND"
        ),
        [(("preferences", "notificationChannels"), ("telegram", "email", "in_app"))],
        id="contained-in-case",
    ),
    pytest.param(
        _check(
            "((COALESCE((condition ->> 'operator'::text), ''::text) = ANY (ARRAY['<'::text, "
            "'<='::text, '>'::text, '>='::text])) AND (COALESCE((condition -> 'metric'::text), "
            "'\"healthFactor\"'::jsonb) = '\"healthFactor\"'::jsonb) AND "
            "is_json_decimal((condition -> 'value'::text)) AND is_json_within_depth(condition))"
        ),
        [
            (("condition", "operator"), ("<", "<=", ">", ">=")),
            (("condition", "metric"), ("healthFactor",)),
        ],
        id="coalesced-conjuncts",
    ),
    pytest.param(
        _check("((\"Doc\" ->> 'k'::text) = ANY (ARRAY['a'::text]))"),
        [(("Doc", "k"), ("a",))],
        id="quoted-column",
    ),
    pytest.param(
        _check("((d ->> 'k'::text) = ANY (ARRAY['x'::text, 'y'::text]))", " NOT ENFORCED"),
        [],
        id="not-enforced",
    ),
    pytest.param(
        _check("(((d ->> 'k'::text) = 'x'::text) OR (d ? 'legacy'::text))"),
        [],
        id="under-or",
    ),
    pytest.param(
        _check("(NOT ((d ->> 'k'::text) = ANY (ARRAY['x'::text])))"),
        [],
        id="under-not",
    ),
    pytest.param(
        _check(
            "(COALESCE(jsonb_typeof((action -> 'asset'::text)), 'string'::text) = ANY "
            "(ARRAY['string'::text, 'null'::text]))"
        ),
        [],
        id="a-type-not-a-value",
    ),
    pytest.param(
        _check("((d -> 'k'::text) <@ '{\"a\": 1}'::jsonb)"),
        [],
        id="contained-in-an-object",
    ),
]


@pytest.mark.parametrize(("definition", "bindings"), BINDINGS)
def test_json_key_bindings(definition: str, bindings: list[Any]) -> None:
    assert json_key_bindings(definition) == bindings


def test_check_reports_the_contract(server: Server) -> None:
    """End to end: the CLI on check's small broken tree, with a row of things whose
    document has a key no CHECK holds."""
    broken = FIXTURES / "check" / "broken"
    done = cli(
        "check", "--server", server.admin, "--sql-dir", str(broken), "--models",
        "tests.fixtures.contract.things",
    )  # fmt: skip
    contract = [line for line in done.stdout.splitlines() if "[contract]" in line]
    assert contract == [
        f"{_line(THINGS, '    colour:')}: error: [contract] ThingDoc.colour is "
        "Literal['blue', 'red'] | None but the database does not hold things.doc->'colour' "
        f"to the Literal's values; {NO_CHECK}"
    ]
    assert done.returncode == 1
    assert done.stderr == "check: 17 error(s), 4 warning(s) in 3 migrations and 11 queries\n"
