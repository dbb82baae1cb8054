"""Static checks of a Program: a verdict is a report (`CheckReport`), never an exception.

`check(program)` runs every checker in `CHECKERS` (L1 budget, CB count and configuration ranges here;
engines may add more, such as the kernel dry run) and gathers their violations.
"""

from perfmodel.checks.kernels import kernel_dry_run
from perfmodel.checks.report import CheckReport, Violation
from perfmodel.checks.static import CHECKERS, check

CHECKERS.append(kernel_dry_run)

__all__ = ["CHECKERS", "CheckReport", "Violation", "check"]
