"""The README's client example runs as written against a live server (its URL swapped for the test's)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "Client(" in b]


def test_readme_has_a_client_example() -> None:
    assert len(BLOCKS) == 1
    assert "http://127.0.0.1:8000" in BLOCKS[0]


def test_readme_client_example_runs(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "sweeps", tmp_path / "sweeps")  # the example names a shipped sweep spec
    code = BLOCKS[0].replace("http://127.0.0.1:8000", server.url)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md client block", "exec"), namespace)
    assert namespace["job"].state == "finished"  # type: ignore[attr-defined]
    assert namespace["report"].ok is False  # type: ignore[attr-defined]
    assert (tmp_path / "run.json").exists()
    assert namespace["rec"].ok is True  # type: ignore[attr-defined]
    assert namespace["study"].pareto_front  # type: ignore[attr-defined]
    assert len(namespace["table"]) == namespace["summary"].rows > 0  # type: ignore[attr-defined,arg-type]
