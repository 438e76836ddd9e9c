"""Live run statistics: batches completed and written, rows, records dropped as too late.

Writers and listeners find a run's statistics by run key, not by reference, because a DStream
graph (and the writer in it) is unpickled from the checkpoint after a recovery. Waiters block on
a condition that every update notifies, so tests wait for batches, not for the clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql.streaming import StreamingQueryListener
from pyspark.streaming.listener import StreamingListener


@dataclass
class RunStats:
    """Counts for one run of one job."""

    key: str
    started: float = field(default_factory=time.monotonic)
    batches: int = 0
    rows: int = 0
    last_batch: str | None = None
    completed: list[int] = field(default_factory=list)
    durations_ms: list[int] = field(default_factory=list)
    dropped_late: int = 0
    dead_letters: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def record(self, batch_label: str, rows: int) -> None:
        """A batch's output was written."""
        with self._changed:
            self.batches += 1
            self.rows += rows
            self.last_batch = batch_label
            self._changed.notify_all()

    def complete(self, batch: int, duration_ms: int, dropped_late: int = 0) -> None:
        """A batch finished (DStream: its time in ms; Structured: its id) after ``duration_ms``."""
        with self._changed:
            self.completed.append(batch)
            self.durations_ms.append(duration_ms)
            self.dropped_late += dropped_late
            self._changed.notify_all()

    def dead(self, count: int) -> None:
        """``count`` unreadable input records were written to the dead-letter directory."""
        with self._changed:
            self.dead_letters += count
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[RunStats], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def summary(self) -> str:
        last = f"; last batch {self.last_batch}" if self.last_batch else ""
        late = f"; {self.dropped_late} late records dropped" if self.dropped_late else ""
        late += f"; {self.dead_letters} unreadable records kept as dead letters" if self.dead_letters else ""
        written = f"{self.batches} batches, {self.rows} rows written in {self.elapsed:.1f} s"
        job_and_api = self.key.rsplit("/", 1)[0]
        return f"{job_and_api}: {written}{last}{late}"


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


class DStreamProgress(StreamingListener):
    """Notes each completed DStream batch in the run's statistics."""

    def __init__(self, run_key: str) -> None:
        super().__init__()
        self.run_key = run_key

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info = batchCompleted.batchInfo()  # a JavaBatchInfo: delays are longs, -1 when unknown
        stats_for(self.run_key).complete(info.batchTime().milliseconds(), int(info.processingDelay()))


class StructuredProgress(StreamingQueryListener):
    """Notes each micro-batch and the rows its stateful operators dropped behind the watermark.

    One listener serves many queries: ``run_key_of`` maps a query id to its run key (None for
    a query that is not ours).
    """

    def __init__(self, run_key_of: Callable[[str], str | None]) -> None:
        self.run_key_of = run_key_of

    def onQueryStarted(self, event: Any) -> None:
        pass

    def onQueryProgress(self, event: Any) -> None:
        progress = event.progress
        run_key = self.run_key_of(str(progress.id))
        if run_key is None:
            return
        dropped = sum(op.numRowsDroppedByWatermark for op in progress.stateOperators)
        stats_for(run_key).complete(progress.batchId, int(progress.batchDuration), dropped)

    def onQueryIdle(self, event: Any) -> None:
        pass

    def onQueryTerminated(self, event: Any) -> None:
        pass
