"""The README's client example runs as written against a live server (its URL swapped for the test's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[2] / "README.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "Client(" in b]


def test_readme_has_a_client_example() -> None:
    assert len(BLOCKS) == 1
    assert "http://127.0.0.1:8000" in BLOCKS[0]


def test_readme_client_example_runs(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[0].replace("http://127.0.0.1:8000", server.url)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md client block", "exec"), namespace)
    assert namespace["job"].state == "finished"  # type: ignore[attr-defined]
    assert namespace["report"].ok is False  # type: ignore[attr-defined]
    assert (tmp_path / "run.json").exists()
