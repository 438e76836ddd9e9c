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

    ``refresh(query)`` is called after each of the query's batches (from the progress listener);
    a failure to read the state leaves the previous views in place — ad-hoc reading must never
    stop the query.
    """

    def __init__(self, spark: SparkSession, checkpoints: dict[str, str]) -> None:
        self.spark = spark
        self.checkpoints = checkpoints
        self.readers: dict[str, list[StateReader]] = {}
        self.errors: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def views(self) -> list[str]:
        """Every view published so far."""
        return [reader.view for readers in self.readers.values() for reader in readers]

    def refresh(self, query: str) -> None:
        from sparkkit.supervisor import first_line

        checkpoint = self.checkpoints.get(query)
        if checkpoint is None:
            return
        with self._lock:
            try:
                if query not in self.readers:
                    self.readers[query] = state_readers(self.spark, query, checkpoint)
                for reader in self.readers[query]:
                    reader.read(self.spark, checkpoint).createOrReplaceGlobalTempView(reader.view)
                self.errors.pop(query, None)
            except Exception as exc:
                self.errors[query] = first_line(exc)

    def drop(self) -> None:
        """Drop every view (the run is stopping)."""
        import contextlib

        for view in self.views:
            with contextlib.suppress(Exception):
                self.spark.catalog.dropGlobalTempView(view)
