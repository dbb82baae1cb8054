"""The `perfmodel` command line: one module per subcommand, each with `register(subparsers)`.

Bad input exits 2 with one line naming the value (no traceback); a model verdict (does not fit, would
hang, numbers off) exits 1 with its report; success exits 0. `--json` gives machine-readable output.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import re
import sys
from collections.abc import Sequence

from perfmodel.errors import PerfModelError

COMMANDS = (
    "devices",
    "validate",
    "check",
    "estimate",
    "simulate",
    "recommend",
    "tune",
    "sweep",
    "calibrate",
    "microbench",
    "compare",
    "serve",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"perfmodel: error: {message}\n")
        raise SystemExit(2)


def package_version() -> str:
    """The installed distribution's version (from its metadata), or 'unknown' for an uninstalled checkout."""
    try:
        return importlib.metadata.version("tensix-perfmodel")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `only`, just that subcommand is registered (its module alone is
    imported, so a command does not pay for the libraries of the others: scipy for calibrate, uvicorn for
    serve)."""
    parser = _Parser(prog="perfmodel", description="Performance models and checks for Tenstorrent Tensix ops.")
    parser.add_argument("--version", action="version", version=f"perfmodel {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"perfmodel.cli.{name}").register(sub)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names when it starts with one (options before it mean the whole parser)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def attach_dash_values(argv: Sequence[str]) -> list[str]:
    """`--grid -1x8` -> `--grid=-1x8`, so the value reaches its check and the error names it.

    argparse reads a token that starts with '-' (other than a plain negative number) as an option, and its
    error ("expected one argument") would not say which value was meant. No option of ours starts with '-'
    and a digit, so such a token after a long option is that option's value.
    """
    out: list[str] = []
    for token in argv:
        if out and re.match(r"-[\d.]", token) and out[-1].startswith("--") and "=" not in out[-1]:
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = attach_dash_values(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_of(argv)).parse_args(argv)
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
