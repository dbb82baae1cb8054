"""Shared fixtures: `launch_server` starts a real `perfmodel serve` on a free loopback port;
`same_pipeline_times` asserts that two evaluations of the analytic pipeline agree bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

LAUNCH = "import sys; from perfmodel.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    data_dir: Path
    log: Path

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120.0, trust_env=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def start_server(data_dir: Path, *args: str, env: dict[str, str] | None = None, wait_s: float = 90.0) -> Server:
    """`perfmodel serve --port 0` bound to 127.0.0.1; returns once /healthz answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    out = data_dir.parent / f"{data_dir.name}.{time.monotonic_ns()}.out"
    log = out.with_suffix(".log")
    cmd = [sys.executable, "-c", LAUNCH, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir)]
    proc = subprocess.Popen(
        [*cmd, *args],
        stdout=out.open("w"),
        stderr=log.open("w"),
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + wait_s
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()}")
        text = out.read_text()
        if url is None and "http://" in text:
            url = text.split("http://", 1)[1].split()[0]
            url = f"http://{url}"
        if url is not None:
            try:
                if httpx.get(f"{url}/healthz", timeout=2.0, trust_env=False).status_code == 200:
                    return Server(proc, url, data_dir, log)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start within {wait_s} s: {log.read_text()}")


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """estimate_many's persistent cache (perfmodel/analytic/cache.py) in a temporary folder, never the user's."""
    old = os.environ.get("PERFMODEL_CACHE_DIR")
    os.environ["PERFMODEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("perfmodel-cache"))
    yield
    if old is None:
        os.environ.pop("PERFMODEL_CACHE_DIR", None)
    else:
        os.environ["PERFMODEL_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def launch_server():
    """`launch_server(data_dir, *flags, env=...)` -> a running `Server` (the caller stops it)."""
    return start_server


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`cli(*argv)` runs `perfmodel <argv>` in this process -> (exit code, stdout, stderr).

    An argparse usage error (SystemExit) gives its exit code like any other failure.
    """
    from perfmodel.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _assert_same_pipeline_times(got, want) -> None:
    """The same rows deadlock, and every other row has the same total, period and kernel end cycles."""
    np.testing.assert_array_equal(got.deadlock, want.deadlock)
    live = ~want.deadlock
    np.testing.assert_array_equal(got.total_cycles[live], want.total_cycles[live])
    np.testing.assert_array_equal(got.period_cycles[live], want.period_cycles[live])
    for name, values in want.kernel_end_cycles.items():
        np.testing.assert_array_equal(got.kernel_end_cycles[name][live], values[live])


@pytest.fixture(scope="session")
def same_pipeline_times() -> Callable[..., None]:
    """Session-scoped, so that hypothesis tests may take it."""
    return _assert_same_pipeline_times
