"""`sparkkit query` against endpoints that cannot answer: it fails fast with one line, never hangs."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkkit.endpoint import ENDPOINT_FILE, new_endpoint, publish
from tests.processes import ROOT, driver_env


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word (a hung job, a wrong service)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for connection in accepted:
        connection.close()


def query(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkkit", "query", "--checkpoint", str(root), "SELECT 1"],
        capture_output=True,
        text=True,
        env=driver_env(),
        cwd=ROOT,
        timeout=90,
    )


def test_a_job_that_never_answers_fails_fast(tmp_path: Path, silent_server: int) -> None:
    endpoint, _ = new_endpoint("hung", port=silent_server)  # this test's pid: the job looks alive
    publish(endpoint, tmp_path / "hung" / ENDPOINT_FILE)
    started = time.monotonic()
    done = query(tmp_path)
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"sparkkit: error: job hung at {endpoint.url} did not answer within 10 s"
    ]
    assert took < 45, took
    assert endpoint.token not in done.stdout + done.stderr


def test_a_stale_endpoint_file_says_the_job_is_not_running(tmp_path: Path) -> None:
    endpoint, _ = new_endpoint("gone")  # nothing listens on its port
    publish(endpoint, tmp_path / "gone" / ENDPOINT_FILE)
    done = query(tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"sparkkit: error: job gone (pid {endpoint.pid}) is not running: its endpoint file is left from a "
        "run that ended without removing it"
    ]
