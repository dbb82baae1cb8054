"""Safe output files: temporary file, fsync, rename; links followed, non-regular files refused, nothing left over."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from perfmodel import InputError, get_op, simulate
from perfmodel.cli import main
from perfmodel.io import check_output_path, output_file, write_text_safely


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_new_file_is_written_and_nothing_else(tmp_path: Path) -> None:
    out = write_text_safely(tmp_path / "a.txt", "hello")
    assert out == tmp_path / "a.txt" and out.read_text() == "hello"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_existing_file_is_replaced_and_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_text_safely(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _leftovers(tmp_path) == []


def test_a_link_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text("old")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    assert write_text_safely(link, "new") == real
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"


def test_a_dangling_link_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.toml"
    link.symlink_to(tmp_path / "later.toml")
    write_text_safely(link, "x")
    assert link.is_symlink() and (tmp_path / "later.toml").read_text() == "x"


def test_a_folder_is_refused_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "dir"
    folder.mkdir()
    with pytest.raises(InputError, match=r"dir' is a folder, not a regular file"):
        write_text_safely(folder, "x")
    assert folder.is_dir() and list(folder.iterdir()) == [] and _leftovers(tmp_path) == []


def test_a_link_to_a_folder_is_refused_naming_both(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    with pytest.raises(InputError, match=r"link -> .*dir' is a folder"):
        check_output_path(tmp_path / "link")


def test_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="pipe' is a fifo"):
        write_text_safely(fifo, "x")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and _leftovers(tmp_path) == []


def test_a_device_node_is_refused() -> None:
    # Only the check runs here: a device node must never be opened for writing by a test.
    with pytest.raises(InputError, match="character device"):
        check_output_path(os.devnull)


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_refused(path: str) -> None:
    with pytest.raises(InputError, match="empty path"):
        check_output_path(path)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        write_text_safely(tmp_path / "no" / "a.txt", "x")


def test_a_failed_verification_leaves_the_target_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")

    def refuse(path: Path) -> None:
        assert path.parent == tmp_path and path.read_text() == "new"  # the complete temporary file
        raise InputError("bad content")

    with pytest.raises(InputError, match="bad content"):
        write_text_safely(target, "new", verify=refuse)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error) -> None:
    def fail(fd: int) -> None:
        raise error

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(type(error)):
        write_text_safely(tmp_path / "a.txt", "x")
    assert list(tmp_path.iterdir()) == []


def test_output_file_serves_writers_that_take_a_path(tmp_path: Path) -> None:
    import pandas as pd

    target = tmp_path / "table.csv"
    target.write_text("old")
    with output_file(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        pd.DataFrame({"a": [1, 2]}).to_csv(tmp, index=False)
        assert target.read_text() == "old"  # replaced only when the block ends
    assert target.read_text() == "a\n1\n2\n" and _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError), output_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "a\n1\n2\n" and _leftovers(tmp_path) == []


def _forbid_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    import perfmodel.des.engine as engine

    def never(*args, **kwargs):
        raise AssertionError("simulated before checking the output path")

    monkeypatch.setattr(engine, "Simulation", never)


def test_simulate_refuses_a_trace_folder_before_simulating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = get_op("centralize_w_rm").build_program((1, 1, 32, 64), device="wormhole_b0_n150")
    _forbid_simulation(monkeypatch)
    with pytest.raises(InputError, match=r"trace file .* is a folder"):
        simulate(program, trace_path=tmp_path)
    with pytest.raises(InputError, match="trace file '': empty path"):
        simulate(program, trace_path="")


def test_simulate_trace_through_a_link(tmp_path: Path) -> None:
    program = get_op("centralize_w_rm").build_program((1, 1, 32, 64), device="wormhole_b0_n150")
    real = tmp_path / "real.json"
    real.write_text("{}")
    (tmp_path / "t.json").symlink_to(real)
    simulate(program, trace_path=tmp_path / "t.json")
    assert (tmp_path / "t.json").is_symlink() and "traceEvents" in real.read_text()
    assert _leftovers(tmp_path) == []


def test_cli_trace_folder_exits_2_before_simulating(tmp_path: Path, monkeypatch, capsys) -> None:
    _forbid_simulation(monkeypatch)
    code = main(["simulate", "centralize_w_rm", "--shape", "1,1,32,64", "--trace", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and str(tmp_path) in err and "folder" in err and "Traceback" not in err


def _forbid_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    import perfmodel.cli.calibrate as cli_calibrate

    def never(*args, **kwargs):
        raise AssertionError("fitted before checking --out")

    monkeypatch.setattr(cli_calibrate, "calibrate", never)


def test_calibrate_out_folder_exits_2_before_fitting_and_leaves_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    _forbid_fit(monkeypatch)
    out = tmp_path / "dir"
    out.mkdir()
    code = main(["calibrate", "--device", "wormhole_b0_n150", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and f"--out '{out}' is a folder" in err
    assert list(out.iterdir()) == [] and _leftovers(tmp_path) == []


def test_calibrate_out_link_replaces_the_target_and_keeps_the_link(tmp_path: Path, capsys) -> None:
    real = tmp_path / "real.toml"
    real.write_text("old")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    code = main(["calibrate", "--device", "wormhole_b0_n150", "--out", str(link), "--json"])
    capsys.readouterr()
    assert code == 0 and link.is_symlink() and os.readlink(link) == str(real)
    assert 'tag = "fit"' in real.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.toml", "real.toml"]
