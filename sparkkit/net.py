"""Small network checks shared by the Kafka clients, the embedded broker and the local cluster."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable

from sparkkit.errors import ConfigError, PortTakenError


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Does something accept TCP connections at ``host:port`` within ``timeout`` seconds?"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Wait until ``host:port`` accepts connections (True), or until the process that should open it
    is no longer ``alive`` or ``timeout`` seconds pass (False). A port opening sends no event, so
    this polls it."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if not alive() or time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def any_answers(hosts: Iterable[tuple[str, int]], timeout: float = 2.0) -> bool:
    """Does any of ``hosts`` (Kafka's bootstrap servers, for instance) accept connections?"""
    return any(port_open(host, port, timeout) for host, port in hosts)


def check_port(option: str, port: int, host: str = "127.0.0.1", free: bool = True) -> None:
    """Refuse, before anything starts, a port out of range or (``free``) taken by another process."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(option, port, "a TCP port, 1-65535")
    if free and port_open(host, port):
        raise PortTakenError(option, host, port)
