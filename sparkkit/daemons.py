"""Background processes that sparkkit starts and stops: the embedded broker, a local cluster.

Each is tracked by a JSON pid file; a pid counts as ours only while ``/proc/PID/cmdline`` still
holds the process's marker, so a reused pid is never signalled. Logs go beside the pid file.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def cmdline_has(pid: int, marker: bytes) -> bool:
    """Is ``pid`` a live process whose command line contains ``marker``?"""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@dataclass(frozen=True)
class Daemon:
    """One background process, known by its pid file and a marker in its command line."""

    pid_file: Path
    marker: bytes

    @property
    def log_file(self) -> Path:
        return self.pid_file.with_name(self.pid_file.name.split(".")[0] + ".log")

    def info(self) -> dict[str, Any] | None:
        """What :meth:`start` recorded (``pid`` and the caller's fields), or None."""
        try:
            info: dict[str, Any] = json.loads(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return info

    @property
    def pid(self) -> int | None:
        info = self.info()
        return int(info["pid"]) if info else None

    def running(self) -> bool:
        pid = self.pid
        return pid is not None and cmdline_has(pid, self.marker)

    def exited(self) -> bool:
        """Has the recorded process ended (gone, or a zombie)? (Unlike :meth:`running`, not
        fooled by the moment of an ``exec``, when its command line is briefly unreadable.)"""
        pid = self.pid
        if pid is None:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        return stat.rpartition(")")[2].split()[0] == "Z"

    def start(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, **fields: Any
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own session, output appended to the log; record its pid and ``fields``."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=dict(env) if env is not None else None,
            )  # fmt: skip
        self.pid_file.write_text(json.dumps({"pid": proc.pid, **fields}))
        return proc

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 10.0) -> bool:
        """SIGTERM (its whole session), then SIGKILL after ``timeout``; False when it was not running."""
        pid = self.pid if self.running() else None
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while cmdline_has(pid, self.marker) and time.monotonic() < deadline:
            time.sleep(0.05)
            with contextlib.suppress(ChildProcessError):  # reap it when this process started it
                os.waitpid(pid, os.WNOHANG)
        if cmdline_has(pid, self.marker):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return True
