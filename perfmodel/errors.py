"""The one exception family of the project.

User mistakes (bad shape, unknown board, malformed profile, impossible config) raise `InputError` or a
subclass with a one-line message naming the offending value; the CLI prints it and exits 2. Model verdicts
(does not fit, would hang) are results, except `DeadlockError`, which the simulator raises carrying a report.
"""

from __future__ import annotations


class PerfModelError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(PerfModelError, ValueError):
    """A value given by the user is invalid; the message names it."""


class ProfileError(InputError):
    """A device profile file is malformed; the message names the file and the key."""
