"""Live run statistics: batches completed and written, rows, records dropped as too late.

Writers and listeners find a run's statistics by run key, not by reference, because a DStream
graph (and the writer in it) is unpickled from the checkpoint after a recovery. Waiters block on
a condition that every update notifies, so tests wait for batches, not for the clock.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
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


#: Called with each completed batch's metrics record (see :mod:`sparkkit.metrics`; the query's
#: name is its ``query``), on Spark's listener thread: it must be quick and must not raise.
BatchObserver = Callable[[dict[str, Any]], None]


def _counts(stats: RunStats) -> dict[str, int]:
    return {"rows_written": stats.rows, "dead_letters": stats.dead_letters}


def _notify(observers: Sequence[BatchObserver], record: dict[str, Any]) -> None:
    for observer in observers:
        try:
            observer(record)
        except Exception as exc:  # an observer must never stop the query it watches
            query = record.get("query")
            print(f"[sparkkit] warning: {query}: batch observer failed: {exc}", file=sys.stderr, flush=True)


class DStreamProgress(StreamingListener):
    """Notes each completed DStream batch in the run's statistics and tells the observers."""

    def __init__(self, run_key: str, name: str, observers: Sequence[BatchObserver] = ()) -> None:
        super().__init__()
        self.run_key = run_key
        self.name = name
        self.observers = list(observers)

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info = batchCompleted.batchInfo()  # a JavaBatchInfo: delays are longs, -1 when unknown
        stats = stats_for(self.run_key)
        if self.observers:  # before the batch counts as complete: a waiter then sees its record
            from sparkkit.metrics import dstream_record

            record = dstream_record(
                self.name,
                int(info.batchTime().milliseconds()),
                int(info.numRecords()) or None,  # receivers' input only: none for sparkkit's sources
                int(info.processingDelay()),
                int(info.schedulingDelay()),
                _counts(stats),
            )
            _notify(self.observers, record)
        stats.complete(info.batchTime().milliseconds(), int(info.processingDelay()))


class StructuredProgress(StreamingQueryListener):
    """Notes each micro-batch and the rows its stateful operators dropped behind the watermark.

    One listener serves many queries: ``query_of`` maps a query id to the query's name and run
    key (None for a query that is not ours). Each batch's metrics record goes to the observers.
    """

    def __init__(
        self, query_of: Callable[[str], tuple[str, str] | None], observers: Sequence[BatchObserver] = ()
    ) -> None:
        self.query_of = query_of
        self.observers = list(observers)
        self._ended: set[str] = set()
        self._ended_changed = threading.Condition()

    def onQueryStarted(self, event: Any) -> None:
        pass

    def onQueryProgress(self, event: Any) -> None:
        progress = event.progress
        ours = self.query_of(str(progress.id))
        if ours is None:
            return
        name, run_key = ours
        dropped = sum(op.numRowsDroppedByWatermark for op in progress.stateOperators)
        stats = stats_for(run_key)
        if self.observers:  # before the batch counts as complete: a waiter then sees its record
            from sparkkit.metrics import structured_record

            record = structured_record(json.loads(progress.json), name, _counts(stats))
            _notify(self.observers, record)
        stats.complete(progress.batchId, int(progress.batchDuration), dropped)

    def onQueryIdle(self, event: Any) -> None:
        pass

    def onQueryTerminated(self, event: Any) -> None:
        with self._ended_changed:
            self._ended.add(str(event.id))
            self._ended_changed.notify_all()

    def wait_ended(
        self, query_ids: Sequence[str], timeout: float, abandon: Callable[[], bool] = lambda: False
    ) -> bool:
        """Block until the termination of every query in ``query_ids`` has been delivered here
        (Spark's listener bus delivers a query's events in order: its progress events before);
        False if ``timeout`` seconds passed first, or ``abandon()`` (asked every 0.2 s) said so."""
        deadline = time.monotonic() + timeout
        with self._ended_changed:
            while not self._ended.issuperset(query_ids):
                left = deadline - time.monotonic()
                if left <= 0 or abandon():
                    return False
                self._ended_changed.wait(min(left, 0.2))
            return True
