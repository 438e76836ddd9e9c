"""The current state of stateful queries, as global temporary views with readable names.

Spark's State Data Source reads a query's state store at its latest committed batch, also while
the query runs; but a view made from such a read keeps the batch it was made at. So after each
committed batch of a stateful query its views are made again:

- ``global_temp.<query>_state`` for a query with one stateful operator (an aggregation, a
  deduplication, a session window);
- ``global_temp.<query>_state_left`` and ``..._right`` for the two sides of a stream-stream join;
- ``global_temp.<query>_state_<operator id>`` for each operator of a query with several.

Each view has the state's key columns, then its value columns (a value column whose name a key
column has already is called ``value_<name>``), then ``partition_id``. An ad-hoc query asks
``SELECT * FROM global_temp.sessions_state`` without knowing where the checkpoint lives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_JOIN = "symmetricHashJoin"


@dataclass(frozen=True)
class StateReader:
    """One view over one operator (and join side) of one query's state."""

    view: str
    operator_id: int
    join_side: str | None = None

    def read(self, spark: SparkSession, checkpoint: str) -> DataFrame:
        reader = spark.read.format("statestore").option("operatorId", self.operator_id)
        if self.join_side is not None:
            reader = reader.option("joinSide", self.join_side)
        return _flat(reader.load(checkpoint))


def _flat(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    def fields(column: str) -> list[str]:
        kind = df.schema[column].dataType
        return list(getattr(kind, "names", []) or [])

    keys = fields("key")
    columns = [F.col(f"key.`{name}`").alias(name) for name in keys]
    for name in fields("value"):
        columns.append(F.col(f"value.`{name}`").alias(f"value_{name}" if name in keys else name))
    return df.select(*columns, "partition_id")


def state_readers(spark: SparkSession, query: str, checkpoint: str) -> list[StateReader]:
    """The views of query ``query``'s state, from its checkpoint's state metadata (none: stateless)."""
    operators = spark.read.format("state-metadata").load(checkpoint).select("operatorId", "operatorName")
    found = sorted({(int(row.operatorId), str(row.operatorName)) for row in operators.collect()})
    if len(found) == 1 and found[0][1] == _JOIN:
        return [StateReader(f"{query}_state_{side}", found[0][0], side) for side in ("left", "right")]
    if len(found) == 1:
        return [StateReader(f"{query}_state", found[0][0])]
    readers = []
    for operator_id, name in found:
        if name == _JOIN:
            readers += [
                StateReader(f"{query}_state_{operator_id}_{s}", operator_id, s) for s in ("left", "right")
            ]
        else:
            readers.append(StateReader(f"{query}_state_{operator_id}", operator_id))
    return readers


class StateViews:
    """Keeps ``global_temp.<query>_state…`` views at each stateful query's latest committed batch.

    ``request(query)`` is called after each of the query's batches (from the progress listener,
    which must stay quick: a state read takes 0.1-0.3 s, its first one seconds); a thread of its
    own then makes the query's views again, once for any number of requests that came meanwhile.
    A failure to read the state leaves the previous views in place and is kept in ``errors``:
    ad-hoc reading must never stop the query.
    """

    def __init__(self, spark: SparkSession, checkpoints: dict[str, str]) -> None:
        self.spark = spark
        self.checkpoints = checkpoints
        self.readers: dict[str, list[StateReader]] = {}
        self.errors: dict[str, str] = {}
        #: The newest batch id of each query whose state the views show.
        self.refreshed: dict[str, int] = {}
        self._pending: dict[str, int] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._worker: threading.Thread | None = None

    @property
    def views(self) -> list[str]:
        """Every view published so far."""
        return [reader.view for readers in list(self.readers.values()) for reader in readers]

    def request(self, query: str, batch: int) -> None:
        """Ask for ``query``'s views to be made again after its batch ``batch`` committed (they
        are, soon, on the worker thread)."""
        if query not in self.checkpoints:
            return
        with self._changed:
            if self._closed:
                return
            self._pending[query] = max(batch, self._pending.get(query, batch))
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="sparkkit-state-views", daemon=True)
                self._worker.start()
            self._changed.notify_all()

    def wait_refreshed(self, query: str, batch: int, timeout: float) -> bool:
        """Block until ``query``'s views show its state at batch ``batch`` or later."""
        with self._changed:
            return self._changed.wait_for(lambda: self.refreshed.get(query, -1) >= batch, timeout)

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                pending, self._pending = sorted(self._pending.items()), {}
            for query, batch in pending:
                self.refresh(query, batch)

    def refresh(self, query: str, batch: int) -> None:
        """Make ``query``'s views now, at its latest committed batch (``batch`` or later)."""
        from sparkkit.supervisor import first_line

        checkpoint = self.checkpoints[query]
        try:
            if query not in self.readers:
                self.readers[query] = state_readers(self.spark, query, checkpoint)
            for reader in self.readers[query]:
                reader.read(self.spark, checkpoint).createOrReplaceGlobalTempView(reader.view)
            self.errors.pop(query, None)
        except Exception as exc:
            self.errors[query] = first_line(exc)
        with self._changed:
            self.refreshed[query] = max(batch, self.refreshed.get(query, batch))
            self._changed.notify_all()

    def drop(self) -> None:
        """Stop making views and drop every view (the run is stopping)."""
        import contextlib

        with self._changed:
            self._closed = True
            self._changed.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(30)
        for view in self.views:
            with contextlib.suppress(Exception):
                self.spark.catalog.dropGlobalTempView(view)
