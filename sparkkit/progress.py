"""Live run statistics: batches and rows written, kept per run in the driver process.

Writers find their statistics by run key, not by reference, because a DStream graph (and the
writer in it) is unpickled from the checkpoint after a recovery.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class RunStats:
    """Counts for one run of one job."""

    key: str
    started: float = field(default_factory=time.monotonic)
    batches: int = 0
    rows: int = 0
    last_batch: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, batch_label: str, rows: int) -> None:
        with self._lock:
            self.batches += 1
            self.rows += rows
            self.last_batch = batch_label

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def summary(self) -> str:
        last = f"; last batch {self.last_batch}" if self.last_batch else ""
        return f"{self.key}: {self.batches} batches, {self.rows} rows written in {self.elapsed:.1f} s{last}"


_RUNS: dict[str, RunStats] = {}
_LOCK = threading.Lock()


def stats_for(key: str) -> RunStats:
    """The statistics of run ``key``, created on first use."""
    with _LOCK:
        if key not in _RUNS:
            _RUNS[key] = RunStats(key)
        return _RUNS[key]


def reset_stats(key: str) -> RunStats:
    with _LOCK:
        _RUNS[key] = RunStats(key)
        return _RUNS[key]
