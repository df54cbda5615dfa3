"""Development tooling: the embedded server, the target database, schema dumps
and docs, generated structs, seed data and the migration linter.

Nothing here is imported by the runtime (``defi_sql.sync``, ``defi_sql.aio``).
"""
