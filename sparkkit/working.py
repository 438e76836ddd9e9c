"""Working storage: the newest records of a stream within a bound, as a global temporary view.

A stream with ``working = "5m"`` or ``working = "N rows"`` keeps, in Spark's block manager (memory,
spilling to disk), the micro-batches that fall within the bound, and republishes
``global_temp.<stream>`` after each batch. Older batches are unpersisted as they fall out, so
memory stays flat however long the job runs: this is bounded replace, not archival storage.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass
class _Kept:
    batch_id: int
    frame: DataFrame
    rows: int
    newest: datetime | None


class WorkingStorage:
    """``foreachBatch`` target that keeps one stream's newest records within a bound.

    Parameters
    ----------
    view : str
        The global temporary view's name.
    time_column : str
        The column whose values a time-span bound is measured on (event time or arrival time).
    span_ms, rows : int, optional
        The bound: records no older than ``span_ms`` before the newest one, or the newest ``rows``.
    """

    def __init__(
        self, view: str, time_column: str, span_ms: int | None = None, rows: int | None = None
    ) -> None:
        if (span_ms is None) == (rows is None):
            raise ValueError("a working-storage bound is a time span or a number of rows")
        self.view = view
        self.time_column = time_column
        self.span_ms = span_ms
        self.max_rows = rows
        self._kept: deque[_Kept] = deque()

    @property
    def rows(self) -> int:
        """How many records the view holds now."""
        total = sum(kept.rows for kept in self._kept)
        return min(total, self.max_rows) if self.max_rows is not None else total

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        """``foreachBatch``: keep the batch, publish the view, then release what fell out."""
        from pyspark.sql import functions as F

        frame = df.persist()
        count, newest = frame.agg(F.count(F.lit(1)), F.max(F.col(self.time_column))).first()  # type: ignore[misc]
        if count:
            self._kept.append(_Kept(batch_id, frame, int(count), newest))
        else:
            frame.unpersist()
        dropped = self._evict()
        self._publish(df)  # the view stops naming the dropped batches before they are released
        for kept in dropped:
            kept.frame.unpersist()

    def _cutoff(self) -> datetime | None:
        newest = [k.newest for k in self._kept if k.newest is not None]
        if self.span_ms is None or not newest:
            return None
        return max(newest) - timedelta(milliseconds=self.span_ms)

    def _evict(self) -> list[_Kept]:
        """Take out every batch outside the bound (on time: wherever it stands; on rows: the oldest)."""
        cutoff = self._cutoff()
        if cutoff is not None:
            dropped = [k for k in self._kept if k.newest is None or k.newest < cutoff]
            self._kept = deque(k for k in self._kept if k not in dropped)
            return dropped
        assert self.max_rows is not None
        dropped = []
        while self._kept and sum(k.rows for k in self._kept) - self._kept[0].rows >= self.max_rows:
            dropped.append(self._kept.popleft())
        return dropped

    def _publish(self, df: DataFrame) -> None:
        from pyspark.sql import functions as F

        frames = [kept.frame for kept in self._kept]
        if self.max_rows is not None and frames:
            # the oldest batch kept may be cut: records of one micro-batch arrived together
            rest = sum(kept.rows for kept in list(self._kept)[1:])
            if self._kept[0].rows + rest > self.max_rows:
                frames[0] = frames[0].limit(self.max_rows - rest)
        if not frames:
            view = df.sparkSession.createDataFrame([], df.schema)
        else:
            view = frames[0]
            for frame in frames[1:]:
                view = view.unionByName(frame)
        cutoff = self._cutoff()
        if cutoff is not None:
            view = view.where(F.col(self.time_column) >= F.lit(cutoff))
        view.createOrReplaceGlobalTempView(self.view)

    def close(self) -> None:
        """Release every kept batch."""
        while self._kept:
            self._kept.popleft().frame.unpersist()
