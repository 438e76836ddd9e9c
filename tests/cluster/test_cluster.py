"""``sparkkit cluster up|status|down``: a real standalone cluster on 127.0.0.1, started without Docker."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sparkkit.cluster import MASTER_CLASS, WORKER_CLASS
from sparkkit.daemons import cmdline_has
from sparkkit.testing.plugin import free_port
from tests.processes import driver_env

pytestmark = pytest.mark.slow


def sparkkit(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args], capture_output=True, text=True, env=driver_env(),
        timeout=timeout,
    )  # fmt: skip


def recorded_pids(state_dir: Path) -> list[int]:
    """The pids ``up`` recorded in the state directory's pid files."""
    return sorted(json.loads(p.read_text())["pid"] for p in state_dir.glob("*.pid.json"))


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` that are still a Spark master or worker."""
    return [
        pid
        for pid in pids
        if cmdline_has(pid, MASTER_CLASS.encode()) or cmdline_has(pid, WORKER_CLASS.encode())
    ]


def test_up_twice_status_and_down(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port, ui_port = free_port(), free_port()
    up = ["cluster", "up", "--state-dir", str(state), "--workers", "1", "--memory", "512m",
          "--port", str(port), "--ui-port", str(ui_port)]  # fmt: skip
    first = sparkkit(*up)
    assert first.returncode == 0, first.stderr
    assert f"started: master spark://127.0.0.1:{port}" in first.stdout
    assert "1 workers alive, 1 cores, 512 MB" in first.stdout
    pids = recorded_pids(state)
    assert len(pids) == 2 and alive(pids) == pids
    second = sparkkit(*up)
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert recorded_pids(state) == pids  # nothing new started
    status = sparkkit("cluster", "status", "--state-dir", str(state))
    assert status.returncode == 0 and "1 workers alive" in status.stdout
    down = sparkkit("cluster", "down", "--state-dir", str(state))
    assert down.returncode == 0 and "stopped 2 processes" in down.stdout
    assert alive(pids) == [] and recorded_pids(state) == []
    after = sparkkit("cluster", "status", "--state-dir", str(state))
    assert after.returncode == 3 and "no local cluster is running" in after.stdout


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = sparkkit("cluster", "up", "--state-dir", str(tmp_path), "--port", str(port))
    assert result.returncode == 2
    assert f"--port={port}: port 127.0.0.1:{port} is already taken by another process" in result.stderr
    assert "Traceback" not in result.stderr
    assert recorded_pids(tmp_path) == []


def test_submit_dry_run_prints_the_spark_submit_command(tmp_path: Path) -> None:
    result = sparkkit(
        "submit", "wordcount", "--master", "spark://127.0.0.1:7077", "--dry-run",
        "--conf", "spark.executor.memory=1g", "--source", "generator://w?rate=5",
        "--sink", f"json://{tmp_path / 'out'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    command = result.stdout.split()
    assert command[0].endswith("/pyspark/bin/spark-submit") and command[1:3] == [
        "--master",
        "spark://127.0.0.1:7077",
    ]
    assert f"spark.pyspark.python={sys.executable}" in command
    assert "spark.executor.memory=1g" in command
    zipped = Path(command[command.index("--py-files") + 1])
    assert zipped.suffix == ".zip" and zipfile.ZipFile(zipped).getinfo("sparkkit/runner.py")
    assert command[command.index("--py-files") + 2].endswith("sparkkit/_submit/driver.py")
    assert command[command.index("--py-files") + 3 :][:3] == [
        "wordcount",
        "--source",
        "'generator://w?rate=5'",
    ]


def test_submit_refuses_a_bad_option_before_any_jvm() -> None:
    result = sparkkit("submit", "wordcount", "--master", "spark://127.0.0.1:7077", "--batch-interval", "2x")
    assert result.returncode == 2
    assert "sparkkit: error: --batch-interval=2x (from command line)" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
