"""The endpoint file of a running job and the run marker: written for the owner, found, refused when stale."""

from __future__ import annotations

import json
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sparkkit.endpoint import (
    ENDPOINT_FILE,
    find_endpoint,
    is_running,
    marked_running,
    new_endpoint,
    publish,
    withdraw,
)
from sparkkit.errors import ConfigError, NotRunningError


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_new_endpoint_binds_loopback_with_a_fresh_token() -> None:
    first, conf = new_endpoint("shop")
    second, _ = new_endpoint("shop")
    assert first.url.startswith("sc://localhost:") and first.token != second.token
    assert conf["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert conf["spark.connect.grpc.binding.port"] == str(first.port)
    assert conf["spark.connect.authenticate.token"] == first.token
    assert first.token not in repr(first)


def test_published_endpoint_is_owner_only_and_found_while_alive(tmp_path: Path) -> None:
    endpoint, _ = new_endpoint("shop")
    path = tmp_path / "shop" / ENDPOINT_FILE
    with socket.socket() as server:
        server.bind(("127.0.0.1", endpoint.port))
        server.listen()
        publish(endpoint, path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text())["token"] == endpoint.token
        assert find_endpoint(tmp_path) == endpoint
        assert find_endpoint(tmp_path, "shop") == endpoint
        assert is_running(path.parent)
    with pytest.raises(NotRunningError, match="is not running"):
        find_endpoint(tmp_path)  # nothing listens any more
    withdraw(endpoint, path)
    assert not path.exists()


def test_no_endpoint_several_endpoints_and_a_dead_pid(tmp_path: Path) -> None:
    with pytest.raises(NotRunningError, match=f"no running job under {tmp_path}"):
        find_endpoint(tmp_path)
    for name in ("a", "b"):
        endpoint, _ = new_endpoint(name)
        publish(endpoint, tmp_path / name / ENDPOINT_FILE)
    with pytest.raises(NotRunningError, match=r"several jobs .* \(a, b\): choose with --pipeline"):
        find_endpoint(tmp_path)
    stale = json.loads((tmp_path / "a" / ENDPOINT_FILE).read_text()) | {"pid": dead_pid()}
    (tmp_path / "a" / ENDPOINT_FILE).write_text(json.dumps(stale))
    with pytest.raises(NotRunningError, match=r"job a \(pid \d+\) is not running"):
        find_endpoint(tmp_path, "a")


def test_run_marker_says_running_only_inside_the_block(tmp_path: Path) -> None:
    with marked_running(tmp_path / "wordcount"):
        assert is_running(tmp_path / "wordcount")
    assert not is_running(tmp_path / "wordcount")
    (tmp_path / "wordcount" / "run.json").write_text(json.dumps({"pid": dead_pid()}))
    assert not is_running(tmp_path / "wordcount")


def test_a_bind_address_this_machine_lacks_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape("--connect-address=192.0.2.1")):
        new_endpoint("shop", "192.0.2.1")
