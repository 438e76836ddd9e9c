"""Helpers for tests that run sparkkit in separate driver processes (recovery, spark-submit)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def driver_env(**extra: str) -> dict[str, str]:
    """The environment a driver process needs: this interpreter for Spark's Python workers."""
    env = dict(os.environ)
    env.update(
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        SPARKKIT_CONF_DIR=str(ROOT / "conf"),
    )
    env.update(extra)
    return env


class DriverOutput:
    """A driver process's output: appended to its log file line by line, each line waking waiters.

    A sparkkit driver prints a line after every batch it writes (and Spark logs its own events),
    so a test waiting for the files of another process re-checks them when a line arrives,
    instead of polling on a clock.
    """

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.lines, self.ended = 0, False
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self._copy, args=(proc, log), daemon=True)
        self._thread.start()

    def wait_past(self, seen: int, timeout: float) -> tuple[int, bool]:
        """Block until more than ``seen`` lines came, the output ended, or ``timeout`` passed."""
        with self.changed:
            self.changed.wait_for(lambda: self.lines != seen or self.ended, max(timeout, 0))
            return self.lines, self.ended

    def _copy(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        assert proc.stdout is not None
        with open(log, "ab") as out:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                with self.changed:
                    self.lines += 1
                    self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()


_OUTPUTS: dict[Path, DriverOutput] = {}


def start_driver(args: Sequence[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``sparkkit ARGS`` in its own process group, so the driver and its JVM can be killed together."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkkit.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=driver_env(**env),
        cwd=ROOT,
        start_new_session=True,
    )
    _OUTPUTS[log] = DriverOutput(proc, log)
    return proc


def ended_output(log: Path, timeout: float = 60) -> str:
    """The log of the driver last started with ``log``, once that driver's output has ended."""
    output = _OUTPUTS[log]
    with output.changed:
        if not output.changed.wait_for(lambda: output.ended, timeout):
            raise AssertionError(f"the driver's output did not end within {timeout} s")
    return log.read_text(errors="replace")


def batch_interval(api: str) -> str:
    """The ``--batch-interval`` of a job run in a driver process of its own, by API.

    A DStream job queues its batches when one takes longer than the interval (1-3 s each, empty
    or not, while the suite loads both cores), drains the queue when stopped gracefully and,
    restarted, replays every interval it missed: 3 s keeps them few (a DStream window is then a
    multiple of 3 s). A Structured query skips the triggers it overran, so 1 s costs nothing.
    """
    return "3s" if api == "dstream" else "1s"


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the driver and its JVM at once: a crash, with no shutdown hook run."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def stop_gracefully(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    """Wait until ``condition`` (on a driver's output files or log) holds, re-checking it at each
    line the driver started with ``log`` prints; fail saying what, when it ends or time runs out."""
    output = _OUTPUTS[log]
    deadline = time.monotonic() + timeout
    seen = -1
    while not condition():
        lines, ended = output.wait_past(seen, deadline - time.monotonic())
        if (ended and lines == seen) or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            reason = "the driver ended" if ended else f"timed out after {timeout} s"
            raise AssertionError(f"{reason} waiting for {what}\n--- driver log tail ---\n{tail}")
        seen = lines


def json_rows(directory: Path) -> list[dict[str, Any]]:
    """The rows of the batch files a json:// sink wrote (staging directories are skipped)."""
    rows = []
    for path in sorted(directory.glob("batch-*.json")):
        try:
            text = path.read_text()
        except FileNotFoundError:  # a re-run batch replaced its files between glob and read
            continue
        rows += [json.loads(line) for line in text.splitlines() if line.strip()]
    return rows


def json_word_totals(directory: Path) -> Counter[str]:
    """Sum of ``count`` by ``word`` over the batch files a json:// sink wrote."""
    totals: Counter[str] = Counter()
    for row in json_rows(directory):
        totals[row["word"]] += row["count"]
    return totals


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` in the process tree."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_submitted(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    """Stop a ``sparkkit submit`` job as Ctrl-C in its terminal would: SIGTERM to its Python
    driver (spark-submit's child), which stops gracefully; spark-submit then exits with its code."""
    drivers = []
    for pid in descendants(proc.pid):
        try:
            if b"driver.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                drivers.append(pid)
        except OSError:
            continue
    for pid in drivers or [proc.pid]:
        os.kill(pid, signal.SIGTERM)
    return proc.wait(timeout=timeout)
