"""The server shared by the service's API and bad-request tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, launch_server: Any) -> Iterator[Any]:
    """One server shared by the API and bad-request tests (1 request worker, 1 job worker)."""
    srv = launch_server(tmp_path_factory.mktemp("service") / "data", "--workers", "1", "--job-workers", "1")
    yield srv
    srv.stop()
