"""The analytic engine: closed-form pipeline timing derived from the same Program the simulator runs.

`estimate(program)` for one configuration, `estimate_many(op, table)` for a table of them (vectorised).
"""

from perfmodel.analytic.estimate import estimate
from perfmodel.analytic.many import estimate_many

__all__ = ["estimate", "estimate_many"]
