"""The ``defi-sql`` command line.

The library raises sentences; this module prints them, once, at the edge: one
line on stderr and exit status 1. A traceback means a bug in defi-sql.

Output whose reader has gone (``defi-sql status | head -1``) is dropped, not
turned into a ``BrokenPipeError`` traceback: the command finishes its work (a
``migrate`` is not cut short between two migrations because nobody reads its
report) and exits with its own status.

Commands that destroy (``rollback`` in every form, ``fresh``, ``repair``) are
refused when ``DEFI_SQL_ENV=production`` unless ``--force``, as Lucid's are;
``--dry-run`` destroys nothing and is always allowed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from defi_sql.check import run_check
from defi_sql.cli_maintain import add_maintain_arguments, cmd_maintain
from defi_sql.config import environment_name, parse_url
from defi_sql.connection import client_arguments, connect, scrub
from defi_sql.dev import embedded, replicas
from defi_sql.dev.docs import schema_markdown
from defi_sql.dev.dump import DUMP_VERSION, dump_schema, migrated_scratch_database
from defi_sql.dev.lint import lint_migrations, manifest_path, update_manifest
from defi_sql.dev.seed import DEFAULT_SNAPSHOTS, seed_dev, seed_users
from defi_sql.dev.structs import struct_source
from defi_sql.dev.target import Target, resolve_target
from defi_sql.dev.terminal import ProgressBar, err, out, write
from defi_sql.errors import ConfigError, DefiSqlError, Refused
from defi_sql.migrate import Migrator, create_migration
from defi_sql.paths import display_path, is_bundled, sql_root, writable_sql_root
from defi_sql.translate import message_of
from defi_sql.validate import storable

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


def _refuse_in_production(args: argparse.Namespace, doing: str, advice: str) -> None:
    """Refuse a destructive command when DEFI_SQL_ENV=production, unless --force."""
    if environment_name() == "production" and not args.force:
        raise Refused(f"refusing to {doing} because DEFI_SQL_ENV=production; {advice}.")


def _migrator(target: Target) -> Migrator:
    return Migrator(target.conninfo, report=out)


def _announce(target: Target, *, as_sql_comment: bool = False) -> None:
    """Say which database is used, once connected (a SQL comment in dry-run output)."""
    out(f"{'-- ' if as_sql_comment else ''}database: {target.display} ({target.source})")


# -- migrations --------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    target = resolve_target()
    with _migrator(target) as migrator:
        _announce(target, as_sql_comment=args.dry_run)
        if args.dry_run:
            pending = migrator.migrate(dry_run=True)
            out(migrator.plan("apply", pending) if pending else "-- nothing to migrate")
            return 0
        applied = migrator.migrate()
    out(f"batch applied: {len(applied)} migration(s)" if applied else "nothing to migrate")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    if not args.dry_run:
        _refuse_in_production(
            args,
            "roll back migrations",
            "see what would run with --dry-run, and pass --force if you really mean to undo "
            "them on this database",
        )
    target = resolve_target()
    with _migrator(target) as migrator:
        _announce(target, as_sql_comment=args.dry_run)
        kwargs: dict[str, Any] = {"steps": args.steps, "to": args.to, "everything": args.all}
        if args.dry_run:
            ids = migrator.rollback(dry_run=True, **kwargs)
            out(migrator.plan("rollback", ids) if ids else "-- nothing to roll back")
            return 0
        undone = migrator.rollback(**kwargs)
    out(f"rolled back {len(undone)} migration(s)" if undone else "nothing to roll back")
    return 0


def cmd_fresh(args: argparse.Namespace) -> int:
    _refuse_in_production(
        args, "drop every table", "pass --force if you really mean to wipe this database"
    )
    target = resolve_target()
    with _migrator(target) as migrator:
        _announce(target)
        migrator.drop_everything()
        applied = migrator.migrate()
    out(f"fresh: {len(applied)} migration(s) applied")
    if args.seed:
        with connect(target.conninfo) as conn:
            out(_seeded(seed_dev(conn)))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    target = resolve_target()
    with _migrator(target) as migrator:
        _announce(target)
        states = migrator.status()
    width = max((len(s.id) for s in states), default=10)
    out(f"{'MIGRATION':<{width}}  {'STATE':<12}  {'BATCH':>5}  APPLIED AT")
    for s in states:
        at = s.applied_at.strftime("%Y-%m-%d %H:%M:%S %Z") if s.applied_at else "-"
        batch = str(s.batch) if s.batch is not None else "-"
        out(f"{s.id:<{width}}  {s.label:<12}  {batch:>5}  {at}")
    pending = sum(1 for s in states if not s.applied)
    edited = sum(1 for s in states if s.edited)
    missing = sum(1 for s in states if s.label == "file missing")
    invalid = sum(1 for s in states if s.label == "invalid")
    worse = (f", {missing} file missing" if missing else "") + (
        f", {invalid} invalid" if invalid else ""
    )
    out(f"{len(states) - pending} applied, {pending} pending, {edited} edited{worse}")
    if args.check and (missing or invalid):
        err(
            f"{missing} applied migration(s) without their file and {invalid} with an INVALID "
            "index; restore the files (git), and drop or rebuild the indexes `migrate` or "
            "`rollback` named."
        )
        return 1
    if args.check and (pending or edited):
        err(f"{pending} migration(s) pending and {edited} edited; run `defi-sql migrate`.")
        return 1
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    forward, rollback = create_migration(args.name, writable_sql_root() / "migrations")
    out(f"created {forward}")
    out(f"created {rollback}")
    return 0


def cmd_struct(args: argparse.Namespace) -> int:
    target = resolve_target()
    with connect(target.conninfo) as conn:
        out(struct_source(conn, args.table), end="")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    admin = embedded.start(DUMP_VERSION, database="postgres")
    with migrated_scratch_database(admin) as url:
        text = dump_schema(url)
        if args.markdown:
            with connect(url) as conn:
                Path(args.markdown).write_text(schema_markdown(conn), encoding="utf-8")
            out(f"wrote {args.markdown}")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        out(f"wrote {args.output}")
        # the baseline `defi-sql lint` checks migrations against: appended, never
        # rewritten, and never inside an installed package (its tree is as shipped)
        root = sql_root()
        manifest = manifest_path(root)
        if not is_bundled(root) and update_manifest(root / "migrations", manifest):
            out(f"wrote {display_path(manifest)}")
    else:
        out(text, end="")
    return 0


def _is_folder(path: Path) -> bool:
    """Whether ``path`` is a folder; a name the system refuses to look up (too long, a
    component that is a file, no permission) is not one, and no traceback."""
    try:
        return path.is_dir()
    except OSError:
        return False


def cmd_check(args: argparse.Namespace) -> int:
    # bad settings fail now, not after the scratch database has been built and checked
    database = None if args.database is None else parse_url(args.database, "--database")
    if database is not None:
        connect(database).close()
    sql_dir = Path(args.sql_dir) if args.sql_dir else sql_root()
    if not _is_folder(sql_dir / "migrations"):
        raise ConfigError(
            f"{display_path(sql_dir)} has no migrations/ folder; point --sql-dir (or "
            "DEFI_SQL_SQL_DIR) at a sql tree containing migrations/ and queries/."
        )
    if args.server is not None:
        server = parse_url(args.server, "--server")
        connect(server).close()
    else:
        server = embedded.start(embedded.pg_version(), database="postgres")
    report = run_check(server, sql_dir=sql_dir, models=args.models, database=database)
    for problem in report.problems:
        out(str(problem))
    if args.shards:  # the section: every query on per-user tables, one shard or all
        for verdict in report.shards:
            out(str(verdict))
    errors, warnings = len(report.errors), len(report.warnings)
    looked = f"{report.migrations} migrations and {report.queries} queries"
    # as `lint`: problems on stdout, the closing line on stdout when the check passes
    # (exit 0) and on stderr when it fails (exit 1)
    if errors or warnings:
        (err if errors else out)(f"check: {errors} error(s), {warnings} warning(s) in {looked}")
    else:
        out(f"check: {looked}: no problems")
    return 1 if errors else 0


def cmd_lint(args: argparse.Namespace) -> int:
    sql_dir = Path(args.sql_dir) if args.sql_dir else sql_root()
    directory = sql_dir / "migrations"
    if not _is_folder(directory):
        raise ConfigError(
            f"{display_path(directory)} is not a folder; point --sql-dir (or DEFI_SQL_SQL_DIR) "
            "at a sql tree containing migrations/."
        )
    findings = lint_migrations(directory, manifest_path(sql_dir))
    for finding in findings:
        out(str(finding))
    if findings:
        files = len({finding.path for finding in findings})
        err(
            f"{len(findings)} problem{'s' * (len(findings) != 1)} "
            f"in {files} file{'s' * (files != 1)}"
        )
        return 1
    out(f"migrations: no problems ({len(list(directory.glob('*.sql')))} files)")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    _refuse_in_production(
        args,
        "accept edited migrations",
        "restore the files or add a new migration instead, or pass --force if you really "
        "mean to record their new content on this database",
    )
    target = resolve_target()
    with _migrator(target) as migrator:
        _announce(target)
        repaired = migrator.repair(args.ids)
    for mid in repaired:
        out(f"accepted the current content of {mid}")
    if not repaired:
        out("no edited migration to repair")
    return 0


def _seeded(added: dict[str, int]) -> str:
    counts = ", ".join(f"{table} {count}" for table, count in added.items())
    return f"seeded development data (rows added): {counts}"


def cmd_seed(args: argparse.Namespace) -> int:
    if args.snapshots is not None and args.users is None:
        raise ConfigError(
            "--snapshots is the number of snapshots per generated user; pass it with "
            f"--users N (e.g. `defi-sql seed --users 100 --snapshots {args.snapshots}`)."
        )
    snapshots = DEFAULT_SNAPSHOTS if args.snapshots is None else args.snapshots
    target = resolve_target()
    with connect(target.conninfo) as conn:
        _announce(target)
        if args.users is None:
            out(_seeded(seed_dev(conn)))
            return 0
        added = seed_users(
            conn,
            args.users,
            snapshots=snapshots,
            progress=ProgressBar(sys.stderr, "seeding users"),
        )
    out(f"seeded {added} new user(s) with {snapshots} snapshot(s) each")
    return 0


# -- the embedded server ------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    action: str = args.action
    if action == "start":
        url = embedded.start()
        out(f"embedded PostgreSQL {embedded.pg_version()} is running: {url}")
    elif action == "stop":
        stopped = embedded.stop()
        out("stopped the embedded server" if stopped else "the embedded server is not running")
    elif action == "status":
        state = embedded.status()
        out(f"PostgreSQL {state.version} in {state.data_dir}")
        if state.running:
            out(f"running (pid {state.pid}): {state.conninfo}")
        else:
            out("not running (it starts on demand; `defi-sql db start` starts it now)")
    elif action == "url":
        out(embedded.start())
    elif action == "psql":
        return _psql(resolve_target())
    return 0


def cmd_replica(args: argparse.Namespace) -> int:
    action: str = args.action
    if args.delay is not None and action != "start":
        raise ConfigError(
            f"--delay is the replay delay of `replica start`, not of `replica {action}`; "
            f"run `defi-sql replica start --delay {args.delay}`."
        )
    version = embedded.pg_version()
    if action == "start":
        name = args.name or replicas.DEFAULT_NAME
        url = replicas.start(name, delay_ms=args.delay)
        state = next(r for r in replicas.status(version) if r.name == name)
        delay = f" (replay delayed {state.delay_ms} ms)" if state.delay_ms else ""
        out(f"replica {name} of PostgreSQL {version} is running{delay}: {url}")
    elif action == "stop":
        stopped = replicas.stop(args.name)
        for name in stopped:
            out(f"stopped replica {name}")
        if not stopped:
            which = f"replica {args.name} is not" if args.name else "no replica is"
            out(f"{which} running")
    else:
        states = replicas.status(version)
        if not states:
            out(f"no replica of PostgreSQL {version} (`defi-sql replica start` makes one)")
        for state in states:
            role = "streaming" if state.standby else "promoted, no longer streaming"
            delay = f", replay delayed {state.delay_ms} ms" if state.delay_ms else ""
            running = f"running (pid {state.pid}): {state.conninfo}" if state.running else "stopped"
            out(f"{state.name} in {state.data_dir} ({role}{delay}): {running}")
    return 0


def _psql(target: Target) -> int:
    conninfo, env = client_arguments(target.conninfo)
    psql = str(embedded.psql_path())
    write(sys.stdout, "")
    os.execve(psql, [psql, conninfo], env)


# -- parsing and the edge ------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="defi-sql",
        description="Plain-SQL migrations for the DeFi assistant's PostgreSQL schema. "
        "Uses DATABASE_URL, else DB_HOST/DB_PORT/DB_USER/DB_PASSWORD/DB_DATABASE "
        "(environment, then .env), else an embedded PostgreSQL started on demand.",
    )
    parser.add_argument("--version", action="version", version=f"defi-sql {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = command("migrate", cmd_migrate, "apply every pending migration as one batch")
    p.add_argument("--dry-run", action="store_true", help="print the SQL it would run, run nothing")

    p = command("rollback", cmd_rollback, "undo the last batch of migrations")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--steps", type=int, metavar="N", help="undo the last N migrations instead")
    how.add_argument("--to", metavar="ID", help="undo every migration applied after ID")
    how.add_argument("--all", action="store_true", help="undo every applied migration")
    p.add_argument("--dry-run", action="store_true", help="print the SQL it would run, run nothing")
    p.add_argument("--force", action="store_true", help="run even when DEFI_SQL_ENV=production")

    p = command("fresh", cmd_fresh, "drop every object of the schema and migrate from scratch")
    p.add_argument("--seed", action="store_true", help="seed development data afterwards")
    p.add_argument("--force", action="store_true", help="run even when DEFI_SQL_ENV=production")

    p = command("status", cmd_status, "list migrations: applied or pending, batch, time, edits")
    p.add_argument(
        "--check", action="store_true", help="exit 1 while anything is pending or edited"
    )

    p = command("new", cmd_new, "create the next-numbered migration and its rollback")
    p.add_argument("name", help="verb-object in kebab case, e.g. add-users-email")

    p = command("seed", cmd_seed, "insert idempotent development data")
    p.add_argument("--users", type=int, metavar="N", help="generate N realistic users instead")
    p.add_argument(
        "--snapshots",
        type=int,
        metavar="M",
        help=f"position snapshots per generated user ({DEFAULT_SNAPSHOTS}); needs --users",
    )

    p = command("maintain", cmd_maintain, "make partitions ahead, expire signals, archive events")
    add_maintain_arguments(p)

    p = command(
        "schema", cmd_schema, "dump the schema the migrations produce (embedded PostgreSQL 18)"
    )
    p.add_argument("--output", metavar="FILE", help="write it to FILE, e.g. sql/schema.sql")
    p.add_argument("--markdown", metavar="FILE", help="also write docs/schema.md-style docs")

    p = command("struct", cmd_struct, "print a msgspec struct for a table, from the live catalog")
    p.add_argument("table", help="a table of the migrated schema, e.g. signals")

    p = command(
        "check",
        cmd_check,
        "prove every migration (round-trip) and named query (prepare, result shape, "
        "operator) on a scratch database",
    )
    p.add_argument(
        "--database", metavar="URL", help="also list how this live database drifts from them"
    )
    p.add_argument(
        "--server",
        metavar="URL",
        help="where to create the scratch database (default: the embedded PostgreSQL)",
    )
    p.add_argument(
        "--sql-dir", metavar="DIR", help="a tree with migrations/, queries/ and (optional) seed/"
    )
    p.add_argument(
        "--models",
        default="defi_sql.models",
        metavar="MODULE",
        help="the module holding the structs queries declare (default: defi_sql.models)",
    )
    p.add_argument(
        "--shards",
        action="store_true",
        help="also list every query on the per-user tables as single- or multi-shard "
        "(docs/scale-out.md)",
    )

    p = command(
        "lint",
        cmd_lint,
        "lint the migrations: squawk's rules, reasons for its ignores, rollbacks, "
        "CONCURRENTLY outside transactions, edits since migrations.sum",
    )
    p.add_argument(
        "--sql-dir",
        metavar="DIR",
        help="a tree with migrations/ and migrations.sum (default: the project's)",
    )

    p = command("repair", cmd_repair, "accept the current content of edited, applied migrations")
    p.add_argument(
        "ids", nargs="*", metavar="ID", help="migrations to accept (default: all edited)"
    )
    p.add_argument("--force", action="store_true", help="run even when DEFI_SQL_ENV=production")

    p = command("db", cmd_db, "manage the embedded PostgreSQL server")
    p.add_argument("action", choices=["start", "stop", "status", "url", "psql"])

    p = command(
        "replica",
        cmd_replica,
        "manage streaming replicas of the embedded server (for development and tests)",
    )
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument(
        "--name",
        metavar="N",
        help=f"which replica (start: {replicas.DEFAULT_NAME}; stop: every one)",
    )
    p.add_argument(
        "--delay",
        type=int,
        metavar="MS",
        help="start: replay each commit MS milliseconds after it (recovery_min_apply_delay)",
    )
    return parser


def _refuse_unreadable(args: argparse.Namespace) -> None:
    """Arguments reach libpq and the server as UTF-8 C strings: refuse one that cannot be
    (bytes that are not UTF-8 arrive as lone surrogates; a NUL would cut it short)."""
    for name, value in vars(args).items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not storable(text):
                shown = name.replace("_", "-")
                raise ConfigError(
                    f"the {shown} argument {text!r} is not UTF-8 text without NUL bytes; "
                    "pass it in UTF-8."
                )


def _version() -> str:
    try:
        return importlib.metadata.version("defi-sql")
    except importlib.metadata.PackageNotFoundError:  # run from a tree that was never installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    finally:
        # argparse's --help, --version and usage errors write without flushing: flush now,
        # so a reader that has gone costs nothing at exit either
        write(sys.stdout, "")
    handler: Handler = args.handler
    try:
        _refuse_unreadable(args)
        return handler(args)
    except DefiSqlError as exc:
        err(f"defi-sql: error: {exc}")
    except psycopg.Error as exc:
        detail = message_of(exc)
        err(f"defi-sql: database error: {scrub(detail)}")
    except KeyboardInterrupt:
        err("defi-sql: interrupted")
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
