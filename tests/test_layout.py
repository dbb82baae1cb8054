"""The project works from its own checkout whichever way it was installed (editable, or `pip install .`).

The op packages and profiles are top-level folders installed as `perfmodel.ops` / `perfmodel.device_profiles`
(see perfmodel/_layout.py). Python run from the project root imports the source `perfmodel/` folder; these
tests run it that way in a fresh interpreter, with the editable install's import hook removed, so they see
what a user sees after a plain `pip install .`.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Remove the import hook of an editable install (if any): the interpreter then resolves as after `pip install .`.
NO_EDITABLE_HOOK = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '')]"
)


def _python(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"{NO_EDITABLE_HOOK}\n{code}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_the_checkout_imports_its_own_ops_and_profiles_and_runs() -> None:
    """`import perfmodel`, the analytic engine and `python -m perfmodel devices`, from the project root."""
    done = _python(
        "import json, runpy, perfmodel, perfmodel.ops\n"
        "op = perfmodel.get_op('centralize_w_rm')\n"
        "cycles = perfmodel.estimate(op.build_program((1, 1, 64, 64), device='wormhole_b0_n150')).cycles\n"
        "print(json.dumps([perfmodel.__file__, perfmodel.ops.__file__, op.name, perfmodel.list_devices(),"
        " perfmodel.load_device('wormhole_b0_n150').path, cycles]))\n"
        "sys.argv = ['perfmodel', 'devices', '--json']\n"
        "runpy.run_module('perfmodel', run_name='__main__')",
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    first, _, devices_json = done.stdout.partition("\n")
    package, ops, name, devices, profile, cycles = json.loads(first)
    assert Path(package) == ROOT / "perfmodel" / "__init__.py"
    assert Path(ops) == ROOT / "ops" / "__init__.py"
    assert name == "centralize_w_rm" and "wormhole_b0_n150" in devices
    assert Path(profile).parent == ROOT / "device_profiles"
    assert cycles > 0
    assert {row["name"] for row in json.loads(devices_json)} == set(devices)


def _setuptools_version() -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return ()


@pytest.mark.skipif(
    _setuptools_version() < (70, 1),
    reason="needs setuptools >= 70.1, which the test extra installs (pip install '.[test]')",
)
def test_a_non_editable_install_works_inside_and_outside_the_checkout(tmp_path: Path) -> None:
    """The project's wheel, built offline from a copy of its files and unpacked as pip installs a pure wheel."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("perfmodel", "ops", "device_profiles"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_wheel({str(tmp_path)!r}))"],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    site = tmp_path / "site"
    with zipfile.ZipFile(tmp_path / build.stdout.split()[-1]) as wheel:
        wheel.extractall(site)
    assert (site / "perfmodel" / "ops" / "centralize_w_rm" / "kernels.py").is_file()
    assert (site / "perfmodel" / "device_profiles" / "wormhole_b0_n150.toml").is_file()
    assert (site / "perfmodel" / "calibration" / "data" / "dram_single_core.csv").is_file()
    assert (site / "perfmodel" / "calibration" / "data" / "README.md").is_file()
    probe = (
        "import json, perfmodel, perfmodel.ops\n"
        "from perfmodel.calibration import shipped_data\n"
        "perfmodel.get_op('centralize_w_rm')\n"
        "print(json.dumps([perfmodel.__file__, perfmodel.ops.__file__, str(shipped_data()), perfmodel.list_devices()]))"
    )
    env = {"PYTHONPATH": str(site)}
    # Elsewhere: the installed copy, with everything inside it.
    outside = _python(probe, cwd=tmp_path, env=env)
    assert outside.returncode == 0, outside.stderr
    package, ops, data, devices = json.loads(outside.stdout)
    assert Path(package).parent == Path(ops).parent.parent == site / "perfmodel"
    assert Path(data).is_file() and len(devices) >= 4
    # In the checkout: the source folder comes first on sys.path and still finds its ops.
    inside = _python(probe, cwd=ROOT, env=env)
    assert inside.returncode == 0, inside.stderr
    package, ops, data, devices = json.loads(inside.stdout)
    assert Path(package).parent == ROOT / "perfmodel" and Path(ops).parent == ROOT / "ops"
    assert Path(data).is_file() and len(devices) >= 4


def _temporary_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, model: str | None) -> None:
    """An op package `perfmodel.ops.<name>` in tmp_path, with the given model.py source (or none)."""
    import perfmodel.ops

    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    if model is not None:
        (folder / "model.py").write_text(model)
    monkeypatch.setattr(perfmodel.ops, "__path__", [*perfmodel.ops.__path__, str(tmp_path)])
    for module in (f"perfmodel.ops.{name}", f"perfmodel.ops.{name}.model"):
        monkeypatch.delitem(sys.modules, module, raising=False)


def test_an_op_without_a_model_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perfmodel import InputError
    from perfmodel.analytic.engine import op_model

    _temporary_op(tmp_path, monkeypatch, "modelless_op", None)
    with pytest.raises(InputError, match="'modelless_op' has no analytic model"):
        op_model("modelless_op")


def test_a_missing_dependency_of_a_model_is_not_called_a_missing_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfmodel.analytic.engine import op_model

    _temporary_op(tmp_path, monkeypatch, "broken_model_op", "import no_such_dependency_of_the_model\n")
    with pytest.raises(ModuleNotFoundError) as info:
        op_model("broken_model_op")
    assert info.value.name == "no_such_dependency_of_the_model"
