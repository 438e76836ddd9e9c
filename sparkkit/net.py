"""Small network checks shared by the Kafka clients, the embedded broker and the local cluster."""

from __future__ import annotations

import socket
from collections.abc import Iterable


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Does something accept TCP connections at ``host:port`` within ``timeout`` seconds?"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def any_answers(hosts: Iterable[tuple[str, int]], timeout: float = 2.0) -> bool:
    """Does any of ``hosts`` (Kafka's bootstrap servers, for instance) accept connections?"""
    return any(port_open(host, port, timeout) for host, port in hosts)
