"""Which database is used, and passwords never shown: no server needed here."""

from __future__ import annotations

from pathlib import Path

import pytest

from defi_sql.config import environment_name, mask_conninfo, resolve_settings
from defi_sql.connection import connect, scrub
from defi_sql.errors import ConfigError, DatabaseUnavailable

URL = "postgresql://app:s3cret@db.example:6543/defi"


def settings_for(env: dict[str, str], dotenv: str | None, tmp_path: Path) -> tuple[str, str] | None:
    path = tmp_path / ".env"
    if dotenv is not None:
        path.write_text(dotenv)
    settings = resolve_settings(env, path)
    return None if settings is None else (settings.display, settings.source)


@pytest.mark.parametrize(
    ("env", "dotenv", "expected"),
    [
        pytest.param({}, None, None, id="nothing-configured-means-embedded"),
        pytest.param(
            {"DATABASE_URL": URL},
            None,
            ("postgresql://app:***@db.example:6543/defi", "DATABASE_URL (environment)"),
            id="env-url",
        ),
        pytest.param(
            {"DATABASE_URL": URL, "DB_HOST": "other"},
            None,
            ("postgresql://app:***@db.example:6543/defi", "DATABASE_URL (environment)"),
            id="env-url-beats-env-db-vars",
        ),
        pytest.param(
            {"DB_HOST": "pg", "DB_PASSWORD": "pw"},
            "DATABASE_URL=" + URL,
            ("postgresql://postgres:***@pg:5432/defi_assistant", "DB_* variables (environment)"),
            id="env-db-vars-beat-dotenv-url",
        ),
        pytest.param(
            {},
            "DATABASE_URL=" + URL + "\nDB_HOST=ignored\n",
            ("postgresql://app:***@db.example:6543/defi", "DATABASE_URL (.env)"),
            id="dotenv-url",
        ),
        pytest.param(
            {},
            "DB_HOST=localhost\nDB_PORT=5433\nDB_USER=postgres\nDB_PASSWORD=postgres\n"
            "DB_DATABASE=defi_assistant\n",
            ("postgresql://postgres:***@localhost:5433/defi_assistant", "DB_* variables (.env)"),
            id="dotenv-seed-variables",
        ),
        pytest.param(
            {"DATABASE_URL": "postgresql+psycopg://u@h/d"},
            None,
            ("postgresql://u@h/d", "DATABASE_URL (environment)"),
            id="sqlalchemy-style-scheme-accepted",
        ),
    ],
)
def test_resolve_settings(
    env: dict[str, str], dotenv: str | None, expected: tuple[str, str] | None, tmp_path: Path
) -> None:
    result = settings_for(env, dotenv, tmp_path)
    if expected is None:
        assert result is None
    else:
        assert result == (expected[0], expected[1].replace(".env", str(tmp_path / ".env")))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"DATABASE_URL": "mysql://u:pw@h/d"},
            "DATABASE_URL (environment) does not start with postgresql://; "
            "write it as postgresql://user:password@host:5432/database.",
            id="wrong-scheme",
        ),
        pytest.param(
            {"DATABASE_URL": "postgresql://u:pw@h:port/d"},
            "DATABASE_URL (environment) has a port that is not a number; use e.g. :5432.",
            id="port-not-a-number",
        ),
        pytest.param(
            {"DATABASE_URL": "postgresql://u:pw@h/d?no_such_option=1"},
            "DATABASE_URL (environment) is not a valid PostgreSQL URL; write it as "
            "postgresql://user:password@host:5432/database (percent-encode special characters "
            "in the password).",
            id="unknown-option",
        ),
        pytest.param(
            {"DB_HOST": "h", "DB_PORT": "54x2", "DB_PASSWORD": "pw"},
            "DB_PORT='54x2' (DB_* variables (environment)) is not a port number; "
            "use e.g. DB_PORT=5432.",
            id="db-port-not-a-number",
        ),
    ],
)
def test_resolve_settings_bad(env: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings(env, tmp_path / "missing.env")
    assert str(caught.value) == message
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("conninfo", "shown"),
    [
        (URL, "postgresql://app:***@db.example:6543/defi"),
        ("host=h port=1 user=u password=p dbname=d", "postgresql://u:***@h:1/d"),
        ("host=/tmp/sock user=postgres dbname=x", "postgresql://postgres@/x?host=/tmp/sock"),
        ("not a conninfo", "<unparseable connection string>"),
    ],
)
def test_mask_conninfo(conninfo: str, shown: str) -> None:
    assert mask_conninfo(conninfo) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param(
            "cannot reach postgresql://app:e@127.0.0.1:1/defi",
            "cannot reach postgresql://app:***@127.0.0.1:1/defi",
            id="url",
        ),
        pytest.param(
            "postgresql://app:p%40ss%3Aw%2Frd@h/d and postgres://u:x@h2/d",
            "postgresql://app:***@h/d and postgres://u:***@h2/d",
            id="urls-percent-encoded",
        ),
        pytest.param(
            "postgresql://u@h/d?sslmode=require&password=e&x=1",
            "postgresql://u@h/d?sslmode=require&password=***&x=1",
            id="url-query",
        ),
        pytest.param("host=h password=e dbname=d", "host=h password=*** dbname=d", id="keyword"),
        pytest.param(
            "host=h password = 'it\\'s a b' dbname=d",  # libpq's quoting
            "host=h password = *** dbname=d",
            id="keyword-quoted",
        ),
        pytest.param("PGPASSWORD=e psql", "PGPASSWORD=*** psql", id="pgpassword"),
    ],
)
def test_scrub_masks_credentials(text: str, shown: str) -> None:
    assert scrub(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            'connection to server at "127.0.0.1", port 1 failed: Connection refused',
            id="libpq-words",
        ),
        pytest.param("postgresql://postgres:@/db?host=/tmp/x", id="empty-password"),
        pytest.param("postgresql://postgres@/db?host=/tmp/x", id="no-password"),
        pytest.param('FATAL:  password authentication failed for user "u"', id="the-word"),
        pytest.param("the password=", id="nothing-after"),
    ],
)
def test_scrub_leaves_the_rest_alone(text: str) -> None:
    assert scrub(text) == text


def test_settings_repr_hides_the_password() -> None:
    settings = resolve_settings({"DATABASE_URL": URL}, Path("/nonexistent/.env"))
    assert settings is not None
    assert "s3cret" in settings.conninfo
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings)


def test_unreachable_server_names_host_and_port_never_the_password() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        connect("postgresql://app:Sup3rS3cret@127.0.0.1:1/defi", connect_timeout=3)
    message = str(caught.value)
    assert message.startswith("cannot connect to postgresql://app:***@127.0.0.1:1/defi: ")
    assert "127.0.0.1" in message and "port 1" in message
    assert "Sup3rS3cret" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("env", "dotenv", "name"),
    [
        ({}, None, "development"),
        ({"DEFI_SQL_ENV": "Production"}, None, "production"),
        ({}, "DEFI_SQL_ENV=production\n", "production"),
        ({"DEFI_SQL_ENV": "staging"}, "DEFI_SQL_ENV=production\n", "staging"),
    ],
)
def test_environment_name(
    env: dict[str, str], dotenv: str | None, name: str, tmp_path: Path
) -> None:
    path = tmp_path / ".env"
    if dotenv:
        path.write_text(dotenv)
    assert environment_name(env, path) == name
