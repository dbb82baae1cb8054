"""The `perfmodel` command line: one module per subcommand, each with `register(subparsers)`.

Bad input exits 2 with one line naming the value (no traceback); a model verdict (does not fit, would
hang, numbers off) exits 1 with its report; success exits 0. `--json` gives machine-readable output.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from perfmodel.errors import PerfModelError

COMMANDS = ("devices", "validate", "check", "estimate", "calibrate", "simulate", "compare")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"perfmodel: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="perfmodel", description="Performance models and checks for Tenstorrent Tensix ops.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"perfmodel.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except PerfModelError as exc:
        sys.stderr.write(f"perfmodel: error: {exc}\n")
        return 2
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): stop quietly, as Unix tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed stream until exit
        return 0
    except OSError as exc:
        # A file the user named cannot be read or written (missing folder, permissions, full disk).
        sys.stderr.write(f"perfmodel: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("perfmodel: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
