"""`import perfmodel` loads none of the heavy libraries; every public name still resolves to the right object."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "pandas", "simpy", "ml_dtypes", "optuna", "scipy")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_import_perfmodel_loads_no_heavy_library() -> None:
    out = _run(f"import sys, perfmodel; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert out.strip() == "[]"


def test_every_public_name_resolves_and_tune_stays_the_function() -> None:
    code = """
import perfmodel
import perfmodel.tune.study, perfmodel.tune.recommendation  # importing the modules must not rebind the names
from perfmodel.tune import recommend
from perfmodel.tune.study import tune
missing = [name for name in perfmodel.__all__ if getattr(perfmodel, name, None) is None]
print(missing, callable(perfmodel.tune), perfmodel.recommend is recommend, callable(recommend))
"""
    assert _run(code).split() == ["[]", "True", "True", "True"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    out = _run("import perfmodel\ntry:\n    perfmodel.no_such_name\nexcept AttributeError as e:\n    print(e)")
    assert "no_such_name" in out


def test_a_command_imports_only_its_own_module() -> None:
    """`perfmodel devices` registers and imports its own subcommand only: not calibrate's scipy."""
    code = """
import sys
from perfmodel.cli import main
main(["devices"])
print(sorted(m for m in ("scipy", "perfmodel.cli.calibrate", "perfmodel.cli.serve") if m in sys.modules))
"""
    assert _run(code).strip().splitlines()[-1] == "[]"
