"""The README's examples run as written and its shown outputs are what the code prints (examples that cannot rot).

Python blocks are executed. In console blocks, a line starting with `$ ` is a command (`perfmodel ...` runs
in-process, `python ...` in a fresh interpreter from the project root) and the lines after it are what it
prints: each shown line must appear in the output, in order, character for character, where `...` stands
for anything (a whole line of `...` for any number of lines).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from perfmodel.cli import main

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()
ALL_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
# Blocks that talk to a `perfmodel serve` run against a live server in tests/service/test_service_readme.py.
BLOCKS = [b for b in ALL_BLOCKS if "Client(" not in b]
SERVICE_BLOCKS = [b for b in ALL_BLOCKS if "Client(" in b]


def _console_commands() -> list[tuple[str, list[str]]]:
    """(command, shown output lines) of every `$ ` line of every console block."""
    found: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", TEXT, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            else:
                assert found, f"console block output without a command: {line!r}"
                found[-1][1].append(line.rstrip())
    return found


COMMANDS = _console_commands()


def test_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples may write files (a trace)
    namespace: dict[str, object] = {}
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), namespace)


def test_every_console_block_shows_a_command() -> None:
    programs = {shlex.split(command)[0] for command, _ in COMMANDS}
    assert programs == {"perfmodel", "python"}
    assert len(COMMANDS) >= 4


def _pattern(shown: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in shown.split("...")))


def match_in_order(shown: list[str], printed: list[str]) -> None:
    """Every shown line (with `...` as a wildcard) matches a printed line, in order; a bare `...` skips lines."""
    position = 0
    for line in shown:
        if line.strip() == "...":
            continue
        pattern = _pattern(line)
        for i in range(position, len(printed)):
            if pattern.fullmatch(printed[i]):
                position = i + 1
                break
        else:
            raise AssertionError(f"README shows {line!r}, not printed after line {position}:\n" + "\n".join(printed))


def test_matching_is_strict() -> None:
    printed = ["a 1", "b  2", "c 3"]
    match_in_order(["a 1", "...", "c 3"], printed)
    match_in_order(["b ... 2"], printed)
    for shown in (["b 2"], ["c 3", "a 1"], ["a 10"]):
        with pytest.raises(AssertionError):
            match_in_order(shown, printed)


@pytest.mark.parametrize(("command", "shown"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_readme_console_output_is_what_the_code_prints(command: str, shown: list[str], capsys) -> None:
    argv = shlex.split(command)
    if argv[0] == "perfmodel":
        code = main(argv[1:])
        printed = capsys.readouterr().out
    else:
        done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
        code, printed = done.returncode, done.stdout
        assert "Traceback" not in done.stderr, done.stderr
    assert code in (0, 1)  # a result or a verdict, never bad input
    match_in_order(shown, printed.splitlines())


def test_prose_figures_match_the_shown_outputs() -> None:
    """The numbers the prose quotes are those of the shown runs."""
    simulated = re.search(r"\$ perfmodel simulate .*\n.*: ([\d,]+) ns \(([\d,]+) cycles\)", TEXT)
    assert simulated is not None
    assert f"`perfmodel simulate` gives {simulated.group(2)} cycles for the same run" in TEXT
