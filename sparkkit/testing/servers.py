"""A real TCP server that serves text lines to every client, for socket-source tests and demos."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable


class LineServer:
    """Listens on 127.0.0.1 (a free port by default) and sends queued lines to connected clients.

    Lines sent before a client connects are kept and delivered when it does, so a test can
    script its input before Spark's receiver or socket source has connected.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = socket.create_server((host, port))
        self.host, self.port = self._server.getsockname()[:2]
        self._lines: list[bytes] = []
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="sparkkit-line-server", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                for line in self._lines:
                    client.sendall(line)
                self._clients.append(client)
            self.connected.set()

    def send(self, lines: Iterable[str]) -> None:
        """Send lines to every connected client now, and to clients that connect later."""
        data = [f"{line}\n".encode() for line in lines]
        with self._lock:
            self._lines.extend(data)
            for client in list(self._clients):
                try:
                    client.sendall(b"".join(data))
                except OSError:
                    self._clients.remove(client)

    def close(self) -> None:
        self._closed = True
        self._server.close()
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def __enter__(self) -> LineServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
