"""`perfmodel serve` flags: a bad value exits 2 with one line, before anything starts."""

from __future__ import annotations

import socket

import pytest

from perfmodel.cli import main


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--port", "70000"], "--port 70000 must be in 0..65535"),
        (["--workers", "0"], "--workers 0 must be in 1..256"),
        (["--timeout", "0"], "--timeout 0.0 must be > 0"),
        (["--port", "abc"], "invalid int value: 'abc'"),
        (["--token", " "], "--token must not be empty"),
    ],
)
def test_bad_flags_exit_2_with_one_line(capsys, tmp_path, argv: list[str], words: str) -> None:
    try:
        code = main(["serve", "--data-dir", str(tmp_path / "data"), *argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and words in err
    assert not (tmp_path / "data").exists()


def test_data_dir_that_is_a_file_and_port_in_use(capsys, tmp_path) -> None:
    (tmp_path / "file").write_text("")
    assert main(["serve", "--data-dir", str(tmp_path / "file")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in use" in err
