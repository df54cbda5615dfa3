"""``defi-sql check``: prove the migrations and the queries on a scratch database.

:func:`run_check` (:mod:`~defi_sql.check.run`) runs every check and returns a
:class:`Report` of :class:`Problem` s (:mod:`~defi_sql.check.report`). The checks:
:mod:`~defi_sql.check.roundtrip` (each migration applied, rolled back, applied
again), :mod:`~defi_sql.check.queries` and :mod:`~defi_sql.check.roles` (each
query prepares, runs as its roles, fits its operator and struct),
:mod:`~defi_sql.check.replica` (a ``replica: ok`` query writes nothing),
:mod:`~defi_sql.check.shards` (single- or multi-shard, docs/scale-out.md),
:mod:`~defi_sql.check.compatibility` (a rolling deploy), :mod:`~defi_sql.check.contract`
(the JSON documents), :mod:`~defi_sql.check.drift` (a live database). What they
read with: the plan reader (:mod:`~defi_sql.check.plan` and its ``plan_*``
modules, :mod:`~defi_sql.check.outputs`), :mod:`~defi_sql.check.columns`,
:mod:`~defi_sql.check.shapes`, :mod:`~defi_sql.check.pgtypes` (the type table
``defi-sql struct`` writes from too), :mod:`~defi_sql.check.describe` and
:mod:`~defi_sql.check.catalog`.
"""

from defi_sql.check.run import Problem, Report, run_check

__all__ = ["Problem", "Report", "run_check"]
