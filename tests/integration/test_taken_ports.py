"""A taken or impossible port is a configuration error in `kafka up` and `cluster up` alike.

One rule: exit 2, one line naming the option and the port and saying what to do; nothing is
started. (A background process that starts and then fails is a run-time failure: exit 1.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkkit.broker import EmbeddedBroker
from sparkkit.cluster import LocalCluster
from sparkkit.errors import ConfigError, PortTakenError
from sparkkit.testing.plugin import free_port
from tests.processes import driver_env


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process (this test) listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def sparkkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args],
        capture_output=True, text=True, env=driver_env(), timeout=60,
    )  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sparkkit: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0].removeprefix("sparkkit: error: ")


def taken_message(option: str, port: int) -> str:
    return (
        f"{option}={port}: port 127.0.0.1:{port} is already taken by another process; "
        f"stop it or choose another {option}"
    )


@pytest.mark.parametrize("command", ["kafka", "cluster"])
def test_a_taken_port_exits_2_naming_the_option(tmp_path: Path, taken_port: int, command: str) -> None:
    state = tmp_path / "state"
    result = sparkkit(command, "up", "--state-dir", str(state), "--port", str(taken_port))
    assert one_line_error(result) == taken_message("--port", taken_port)
    assert not list(state.glob("*.pid.json"))  # nothing started


def test_a_taken_ui_port_of_the_cluster(tmp_path: Path, taken_port: int) -> None:
    result = sparkkit(
        "cluster",
        "up",
        "--state-dir",
        str(tmp_path),
        "--port",
        str(free_port()),
        "--ui-port",
        str(taken_port),
    )
    assert one_line_error(result) == taken_message("--ui-port", taken_port)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kafka", "up", "--port", "70000"], "--port=70000: a TCP port, 1-65535"),
        (["kafka", "up", "--port", "0"], "--port=0: a TCP port, 1-65535"),
        (["cluster", "up", "--port", "-1"], "--port=-1: a TCP port, 1-65535"),
        (
            ["cluster", "up", "--port", "7", "--ui-port", "7"],
            "--ui-port=7: a port other than the master's --port",
        ),
    ],
)
def test_an_impossible_port_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    port = str(free_port())
    args = [port if a == "7" else a for a in args]
    message = message.replace("=7:", f"={port}:")
    assert one_line_error(sparkkit(*args, "--state-dir", str(tmp_path))) == message


def test_the_library_raises_the_same_error_before_starting_anything(tmp_path: Path, taken_port: int) -> None:
    for up in (
        lambda: EmbeddedBroker(tmp_path / "kafka").up(taken_port),
        lambda: LocalCluster(tmp_path / "cluster").up(port=taken_port, ui_port=free_port()),
    ):
        with pytest.raises(PortTakenError) as caught:
            up()
        assert isinstance(caught.value, ConfigError) and caught.value.exit_code == 2
        assert str(caught.value) == taken_message("--port", taken_port)
    assert not list(tmp_path.rglob("*.pid.json"))
