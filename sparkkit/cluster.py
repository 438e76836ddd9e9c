"""A Spark standalone cluster on 127.0.0.1 without Docker: ``sparkkit cluster up|status|down``.

The master and workers are started from the pip-installed pyspark with ``spark-class
org.apache.spark.deploy.master.Master`` / ``...deploy.worker.Worker`` (the wheel has no
``start-master.sh``), the same commands docker-compose.yml runs. Pid files and logs live in one
state directory; ``up`` waits until the master reports every worker alive and is idempotent;
``down`` stops only the processes this state directory started.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sparkkit.config import find_conf_dir
from sparkkit.daemons import Daemon
from sparkkit.errors import ClusterError, ConfigError
from sparkkit.net import check_port, port_open

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
DEFAULT_PORT = 7077
DEFAULT_UI_PORT = 8080
HOST = "127.0.0.1"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "sparkkit" / "cluster"


def spark_home() -> Path:
    """The pip-installed pyspark directory, which is a Spark distribution (``bin/``, ``jars/``)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def spark_class_command(main_class: str, *args: str) -> list[str]:
    """``spark-class MAIN_CLASS ARGS``: how the master and workers are started, here and in docker-compose."""
    return [str(spark_home() / "bin" / "spark-class"), main_class, *args]


def master_command(port: int, ui_port: int, host: str = HOST) -> list[str]:
    return spark_class_command(
        MASTER_CLASS, "--host", host, "--port", str(port), "--webui-port", str(ui_port)
    )


def worker_command(
    master_url: str, cores: int, memory: str, work_dir: Path, host: str = HOST, ui_port: int = 0
) -> list[str]:
    """A worker's command; web UI port 0 picks a free one, so several workers share one host."""
    return spark_class_command(
        WORKER_CLASS, "--host", host, "--webui-port", str(ui_port), "--cores", str(cores), "--memory", memory,
        "--work-dir", str(work_dir), master_url,
    )  # fmt: skip


def daemon_env(state_dir: Path) -> dict[str, str]:
    """Quiet logs, loopback only, executors on this interpreter (the one with sparkkit)."""
    env = dict(os.environ)
    env.update(SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP=HOST, SPARK_LOG_DIR=str(state_dir))
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    conf_dir = find_conf_dir()
    if (conf_dir / "log4j2.properties").is_file():
        env.setdefault("SPARK_CONF_DIR", str(conf_dir))
    return env


@dataclass(frozen=True)
class ClusterStatus:
    """What the master reports: its URL, alive workers, cores, memory, running applications."""

    running: bool
    master_url: str | None = None
    ui_url: str | None = None
    workers: int = 0
    cores: int = 0
    memory_mb: int = 0
    applications: tuple[str, ...] = ()

    def describe(self) -> str:
        if not self.running:
            if self.ui_url:
                return f"no Spark master answers at {self.ui_url}"
            return "no local cluster is running (start one with `sparkkit cluster up`)"
        apps = ", ".join(self.applications) or "none"
        return (
            f"master {self.master_url} (UI {self.ui_url}): {self.workers} workers alive, "
            f"{self.cores} cores, {self.memory_mb} MB; running applications: {apps}"
        )


def master_json(ui_url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The master's ``/json/`` report, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{ui_url}/json/", timeout=timeout) as response:
            report: dict[str, Any] = json.load(response)
            return report
    except (urllib.error.URLError, OSError, ValueError):
        return None


def status_at(ui_url: str) -> ClusterStatus:
    """The status a master reports at its web UI address (any master, not only a local one)."""
    report = master_json(ui_url.rstrip("/"))
    if report is None or report.get("status") != "ALIVE":
        return ClusterStatus(False, ui_url=ui_url)
    alive = [w for w in report.get("workers", []) if w.get("state") == "ALIVE"]
    return ClusterStatus(
        True, str(report.get("url")), ui_url, len(alive),
        sum(int(w.get("cores", 0)) for w in alive), sum(int(w.get("memory", 0)) for w in alive),
        tuple(str(app.get("name", app.get("id"))) for app in report.get("activeapps", [])),
    )  # fmt: skip


class LocalCluster:
    """A standalone master and its workers on 127.0.0.1, managed through ``state_dir``."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir else default_state_dir()
        self.master = Daemon(self.state_dir / "master.pid.json", MASTER_CLASS.encode())

    @property
    def master_url(self) -> str | None:
        """``spark://127.0.0.1:PORT`` of the master this state directory started, while it runs."""
        info = self.master.info()
        return f"spark://{HOST}:{info['port']}" if info and self.master.running() else None

    def worker(self, index: int) -> Daemon:
        return Daemon(self.state_dir / f"worker-{index}.pid.json", WORKER_CLASS.encode())

    def workers(self) -> list[Daemon]:
        """The worker daemons recorded in the state directory, running or not."""
        found = sorted(self.state_dir.glob("worker-*.pid.json"), key=lambda p: int(p.name.split(".")[0][7:]))
        return [Daemon(path, WORKER_CLASS.encode()) for path in found]

    def status(self) -> ClusterStatus:
        info = self.master.info()
        if info is None or not self.master.running():
            return ClusterStatus(False)
        status = status_at(f"http://{HOST}:{info['ui_port']}")
        return status if status.running else replace(status, running=True, master_url=self.master_url)

    def up(
        self, workers: int = 2, cores: int = 1, memory: str = "2g",
        port: int = DEFAULT_PORT, ui_port: int = DEFAULT_UI_PORT, timeout: float = 60.0,
    ) -> ClusterStatus:  # fmt: skip
        """Start the master and ``workers`` workers unless they run; wait until all are alive."""
        env = daemon_env(self.state_dir)
        if self.master.running():
            info = self.master.info() or {}
            port, ui_port = int(info["port"]), int(info["ui_port"])
        else:
            check_port("--port", port, HOST)
            check_port("--ui-port", ui_port, HOST)
            if ui_port == port:
                raise ConfigError("--ui-port", ui_port, "a port other than the master's --port")
            self.master.start(master_command(port, ui_port), env, port=port, ui_port=ui_port)
        master_url = f"spark://{HOST}:{port}"
        self._wait(lambda: port_open(HOST, port), timeout, "the master did not open its port", self.master)
        for index in range(workers):
            worker = self.worker(index)
            if not worker.running():
                work_dir = self.state_dir / f"worker-{index}"
                work_dir.mkdir(parents=True, exist_ok=True)
                worker.start(
                    worker_command(master_url, cores, memory, work_dir), env, cores=cores, memory=memory
                )
        self._wait(
            lambda: self.status().workers >= workers, timeout,
            f"the master does not report {workers} alive workers", *self.workers(),
        )  # fmt: skip
        return self.status()

    def _wait(self, ready: Any, timeout: float, problem: str, *daemons: Daemon) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [d for d in daemons if d.exited()]
            if dead or time.monotonic() > deadline:
                culprit = dead[0] if dead else daemons[0]
                raise ClusterError(
                    f"{problem} after {timeout:.0f} s; {culprit.log_file} ends:\n{culprit.log_tail()}"
                )
            time.sleep(0.2)

    def down(self, timeout: float = 15.0) -> int:
        """Stop the workers and the master this state directory started; how many were running."""
        stopped = sum(worker.stop(timeout) for worker in self.workers())
        return stopped + self.master.stop(timeout)
