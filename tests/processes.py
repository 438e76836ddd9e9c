"""Helpers for tests that run sparkkit in separate driver processes (recovery, spark-submit)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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


def start_driver(args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """``sparkkit ARGS`` in its own process group, so the driver and its JVM can be killed together."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "sparkkit.cli", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=driver_env(),
            cwd=ROOT,
            start_new_session=True,
        )


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the driver and its JVM at once: a crash, with no shutdown hook run."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def stop_gracefully(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    """Wait for an observable condition of a separate process (its output files), or fail saying what."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what}\n--- driver log tail ---\n{tail}"
            )
        time.sleep(0.2)  # another process's output files: no listener or harness hook reaches across


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


def cpu_ticks(pids: Sequence[int]) -> int:
    """User + system CPU time of ``pids`` so far, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def executor_busy(root: int, sample_s: float = 0.2) -> bool:
    """Are the processes below ``root`` (a worker: its executor JVM and Python workers) computing
    right now, at least half a core over ``sample_s`` seconds? Between batches they idle."""
    below = descendants(root)
    before = cpu_ticks(below)
    time.sleep(sample_s)  # CPU use is measured over an interval
    return cpu_ticks(below) - before >= sample_s * os.sysconf("SC_CLK_TCK") / 2
