"""A running job's Spark Connect endpoint: where ad-hoc queries reach it, and with which token.

The driver of ``sparkkit run streams`` runs Spark Connect's server plugin beside its streaming
queries, bound to loopback unless told otherwise, with a fresh random token per run. The
endpoint is published in ``ROOT/<pipeline>/endpoint.json`` (mode 0600: the token is a secret,
never printed or logged) and withdrawn when the run stops.

The URL names ``localhost``, never ``127.0.0.1``: PySpark's Connect client uses TLS whenever it
has a token unless the host is literally ``localhost``, and against this plaintext server it would
retry a TLS handshake for minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sparkkit.errors import ConfigError, NotRunningError
from sparkkit.net import port_open

ENDPOINT_FILE = "endpoint.json"
#: Written by a single job's run (which has no Connect endpoint) while it runs: its pid.
RUN_FILE = "run.json"
LOOPBACK = "127.0.0.1"
_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"


@dataclass(frozen=True)
class Endpoint:
    """How to reach one running job's Spark Connect server.

    ``url`` is ``sc://localhost:PORT`` (without the token); ``remote`` adds the token, for
    ``SparkSession.builder.remote``.
    """

    url: str
    token: str = field(repr=False)
    pipeline: str
    pid: int
    started: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def remote(self) -> str:
        """The Connect URL with the token (a secret: never print it)."""
        return f"{self.url}/;token={self.token}"

    def alive(self) -> bool:
        """Is the process that published this endpoint still running and listening?"""
        return pid_alive(self.pid) and port_open("localhost", self.port)


def pid_alive(pid: int) -> bool:
    """Does process ``pid`` exist (another user's counts)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True


def new_endpoint(pipeline: str, address: str = LOOPBACK, port: int = 0) -> tuple[Endpoint, dict[str, str]]:
    """A fresh endpoint for this process and the Spark conf that serves it.

    Parameters
    ----------
    pipeline : str
        The pipeline (or job) name the endpoint belongs to.
    address : str
        The address the server binds; loopback unless the user passed another explicitly.
    port : int
        The port; 0 picks a free one.
    """
    port = port or free_port(address)
    token = secrets.token_urlsafe(32)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    endpoint = Endpoint(f"sc://localhost:{port}", token, pipeline, os.getpid(), started)
    conf = {
        "spark.plugins": _PLUGIN,
        "spark.connect.grpc.binding.address": address,
        "spark.connect.grpc.binding.port": str(port),
        "spark.connect.authenticate.token": token,
    }
    return endpoint, conf


def free_port(address: str = LOOPBACK) -> int:
    """A TCP port free on ``address`` now."""
    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
            return int(sock.getsockname()[1])
    except OSError as exc:
        raise ConfigError("--connect-address", address, f"an address of this machine ({exc})") from None


def publish(endpoint: Endpoint, path: Path) -> None:
    """Write ``endpoint.json`` readable by its owner only, replacing any older one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(
            {
                "url": endpoint.url,
                "token": endpoint.token,
                "pipeline": endpoint.pipeline,
                "pid": endpoint.pid,
                "started": endpoint.started,
            },
            out,
            indent=2,
        )
    os.replace(temporary, path)


def withdraw(endpoint: Endpoint, path: Path) -> None:
    """Remove ``path`` if it still holds ``endpoint`` (a newer run may have replaced it)."""
    with contextlib.suppress(FileNotFoundError, NotRunningError):
        if read_endpoint(path).token == endpoint.token:
            path.unlink()


def read_endpoint(path: Path) -> Endpoint:
    """The endpoint published at ``path``; :class:`NotRunningError` when there is none."""
    try:
        data = json.loads(path.read_text())
        return Endpoint(data["url"], data["token"], data["pipeline"], int(data["pid"]), data["started"])
    except FileNotFoundError:
        raise NotRunningError(f"no running job: {path} does not exist") from None
    except (ValueError, KeyError, TypeError):
        raise NotRunningError(f"no running job: {path} is not an endpoint file") from None


def job_file(root: Path, name: str | None, file: str, kept: str) -> Path | None:
    """``ROOT/<name>/<file>``; without ``name`` the only ``ROOT/*/<file>`` (None: there is none).

    Several jobs on one root without ``name`` raise :class:`NotRunningError`, saying which jobs
    ``kept`` such files.
    """
    if name is not None:
        return root / name / file
    found = sorted(root.glob(f"*/{file}"))
    if len(found) > 1:
        names = ", ".join(p.parent.name for p in found)
        raise NotRunningError(f"several jobs {kept} under {root} ({names}): choose with --pipeline")
    return found[0] if found else None


def find_endpoint(root: Path, pipeline: str | None = None) -> Endpoint:
    """The endpoint of the job running on checkpoint root ``root`` (``pipeline``: which one).

    Raises :class:`NotRunningError` naming what was looked for when no job is running there,
    or when several are and ``pipeline`` does not choose.
    """
    path = job_file(root, pipeline, ENDPOINT_FILE, "published endpoints")
    if path is None:
        raise NotRunningError(f"no running job under {root} (no {root}/*/{ENDPOINT_FILE})")
    endpoint = read_endpoint(path)
    if not endpoint.alive():
        raise NotRunningError(
            f"job {endpoint.pipeline} (pid {endpoint.pid}) is not running: its endpoint file is left from "
            f"a run that ended without removing it"
        )
    return endpoint


@contextlib.contextmanager
def marked_running(directory: Path) -> Iterator[None]:
    """While the block runs, ``directory/run.json`` names this process (``sparkkit status``)."""
    path = directory / RUN_FILE
    directory.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path.write_text(json.dumps({"pid": os.getpid(), "started": started}))
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def is_running(directory: Path) -> bool:
    """Does a live process run the job or pipeline whose state is ``directory``?"""
    with contextlib.suppress(NotRunningError):
        return read_endpoint(directory / ENDPOINT_FILE).alive()
    try:
        pid = int(json.loads((directory / RUN_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return pid_alive(pid)
