"""``defi-sql check``: prove the migrations and the queries on a scratch database.

:func:`run_check` runs every check and returns a :class:`Report` of
:class:`Problem` s.
"""

from defi_sql.check.run import Problem, Report, run_check

__all__ = ["Problem", "Report", "run_check"]
