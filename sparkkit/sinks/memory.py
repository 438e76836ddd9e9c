"""``memory://NAME``: bounded working storage in the driver, readable while the job runs.

Rows of the last ``?keep=N`` batches (default 100) are kept in a process-wide table of that
name and published as the global temporary view ``global_temp.NAME`` (``?view=false``
skips it: global, because a Structured query writes from a cloned session). Writers and
readers may be on different threads; :meth:`MemoryTable.wait_for` lets a test wait for a number
of batches without polling.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from sparkkit.sinks.base import BatchInfo, Delivery, Sink

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_TABLES: dict[str, MemoryTable] = {}
_TABLES_LOCK = threading.Lock()


class MemoryTable:
    """Batches of rows (as dicts), newest last, at most ``keep`` of them."""

    def __init__(self, name: str, keep: int | None = 100) -> None:
        self.name = name
        self.batches: deque[tuple[BatchInfo, list[dict[str, Any]]]] = deque(maxlen=keep)
        self.total_batches = 0
        self._changed = threading.Condition()

    def append(self, batch: BatchInfo, rows: list[dict[str, Any]]) -> None:
        with self._changed:
            self.batches.append((batch, rows))
            self.total_batches += 1
            self._changed.notify_all()

    def rows(self) -> list[dict[str, Any]]:
        with self._changed:
            return [row for _, rows in self.batches for row in rows]

    def wait_for(self, predicate: Callable[[MemoryTable], bool], timeout: float) -> bool:
        """Block until ``predicate(self)`` holds after some batch, or ``timeout`` seconds pass."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def clear(self) -> None:
        with self._changed:
            self.batches.clear()
            self.total_batches = 0

    def snapshot(self) -> list[tuple[BatchInfo, list[dict[str, Any]]]]:
        """The batches kept now, oldest first, copied under the lock."""
        with self._changed:
            return list(self.batches)


def memory_table(name: str, keep: int | None = 100) -> MemoryTable:
    """The process-wide table ``name``, created on first use."""
    with _TABLES_LOCK:
        if name not in _TABLES:
            _TABLES[name] = MemoryTable(name, keep)
        return _TABLES[name]


class MemorySink(Sink):
    """Collects each batch into :func:`memory_table` and republishes the global temporary view."""

    scheme = "memory"
    delivery = Delivery.BOUNDED_REPLACE
    counts_rows = True
    options: ClassVar[dict[str, str]] = {"keep": "a whole number >= 1", "view": "true or false"}

    def open(self) -> None:
        """A new run starts with empty working storage."""
        self.table.clear()

    @property
    def table(self) -> MemoryTable:
        keep = self.address.params.get("keep")
        return memory_table(self.address.path, int(keep) if keep else 100)

    @property
    def publish_view(self) -> bool:
        return self.address.params.get("view", "true").lower() != "false"

    def write(self, df: DataFrame, batch: BatchInfo) -> int:
        rows = [row.asDict(recursive=True) for row in df.collect()]
        table = self.table
        table.append(batch, rows)
        all_rows = table.rows() if self.publish_view else []
        if all_rows:
            view = df.sparkSession.createDataFrame(all_rows, schema=df.schema)
            view.createOrReplaceGlobalTempView(table.name)
        return len(rows)
