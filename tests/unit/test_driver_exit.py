"""A call that fails while the driver JVM exits fails with the exit, not on its own: checked
with real processes standing in for the JVM (the session object around it is a namespace)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from subprocess import PIPE
from types import SimpleNamespace
from typing import Any

import pytest
from py4j.protocol import Py4JError, Py4JNetworkError

import sparkkit.session
from sparkkit.session import broke_connection, failing_with_driver_exit


def session_of(proc: subprocess.Popen[bytes]) -> Any:
    return SimpleNamespace(sparkContext=SimpleNamespace(_gateway=SimpleNamespace(proc=proc)))


@pytest.fixture
def jvm() -> Iterator[subprocess.Popen[bytes]]:
    """A process that runs until its stdin is closed, then exits 143 (as a JVM after SIGTERM)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit(143)"], stdin=PIPE)
    yield proc
    proc.kill()
    proc.wait()


def test_a_broken_connection_is_found_anywhere_in_the_chain() -> None:
    def chained(inner: BaseException, as_cause: bool) -> BaseException:
        outer = Py4JError("An error occurred while calling o12.stop")
        if as_cause:
            outer.__cause__ = inner
        else:
            outer.__context__ = inner
        return outer

    broken = Py4JNetworkError("Error while sending or receiving")
    assert broke_connection(broken)
    assert broke_connection(ConnectionResetError(104, "Connection reset by peer"))
    assert broke_connection(chained(broken, as_cause=True))
    assert broke_connection(chained(chained(broken, as_cause=False), as_cause=True))
    assert not broke_connection(chained(ValueError("a bug"), as_cause=True))
    assert not broke_connection(None)
    looped = Py4JError("a")
    looped.__cause__ = Py4JError("b")
    looped.__cause__.__cause__ = looped
    assert not broke_connection(looped)


def test_a_failure_while_the_jvm_exits_is_the_exit(
    jvm: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sparkkit.session, "DRIVER_EXIT_WAIT_SECONDS", 30.0)
    exits: list[int] = []
    with failing_with_driver_exit(session_of(jvm), exits.append):
        assert jvm.stdin is not None
        jvm.stdin.close()  # the JVM begins to exit as the call fails: the exit comes after
        raise Py4JNetworkError("Error while sending or receiving")
    assert exits == [143]


def test_a_failure_while_the_jvm_runs_is_raised(
    jvm: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sparkkit.session, "DRIVER_EXIT_WAIT_SECONDS", 0.2)
    exits: list[int] = []
    with pytest.raises(ValueError, match="a bug"), failing_with_driver_exit(session_of(jvm), exits.append):
        raise ValueError("a bug")
    assert exits == []
    assert jvm.poll() is None


def test_no_failure_no_wait(jvm: subprocess.Popen[bytes]) -> None:
    exits: list[int] = []
    with failing_with_driver_exit(session_of(jvm), exits.append):
        pass
    assert exits == []
