"""The batch writer between a job and its sink, the same for both APIs.

It adds ``batch_time``, orders the columns, writes through the sink, counts the rows and notes
the batch in the checkpoint. It is picklable: in a DStream job it is part of the checkpointed graph.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sparkkit.checkpoint import CheckpointLayout, record_batch
from sparkkit.progress import stats_for
from sparkkit.sinks import BatchInfo, Delivery, Sink
from sparkkit.sinks.base import quoted

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType


def plan_as_small_batch(df: DataFrame) -> None:
    """Plan the rest of this query's micro-batches as the small batch jobs they are.

    A stateless job's per-batch aggregation runs as an ordinary batch query inside
    ``foreachBatch``, on the session Spark keeps for this one query (so nothing else changes).
    Adaptive execution there runs each shuffle stage as a job of its own, and shuffle partitions
    beyond the cores run in waves: at a 200 ms trigger and 10k records/s each cost more than the
    aggregation itself (benchmarks/latency.py). A stateful query keeps its partitions: its state
    is laid out by them.
    """
    conf = df.sparkSession.conf
    conf.set("spark.sql.adaptive.enabled", "false")
    cores = df.sparkSession.sparkContext.defaultParallelism
    partitions = int(conf.get("spark.sql.shuffle.partitions") or cores)
    conf.set("spark.sql.shuffle.partitions", str(min(partitions, cores)))


class BatchWriter:
    """Writes one job's batches to one sink."""

    def __init__(
        self,
        sink: Sink,
        schema: StructType,
        run_key: str,
        run_id: str,
        layout: CheckpointLayout | None = None,
        with_batch_time: bool = True,
        per_batch: Callable[[DataFrame], DataFrame] | None = None,
    ) -> None:
        self.sink = sink
        self.schema = schema
        self.run_key = run_key
        self.run_id = run_id
        self.layout = layout
        self.with_batch_time = with_batch_time
        self.per_batch = per_batch

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["per_batch"] = None  # Structured only; never part of a DStream checkpoint
        return state

    def dstream_batch(self, time: datetime, rdd: RDD[Any]) -> None:
        """``foreachRDD`` target: rows are tuples in the job's output schema order."""
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        self.emit(spark.createDataFrame(rdd, self.schema), BatchInfo(time, run_id=self.run_id))

    def structured_batch(self, df: DataFrame, batch_id: int) -> None:
        """``foreachBatch`` target."""
        if self.per_batch is not None:
            plan_as_small_batch(df)
            df = self.per_batch(df)
        self.emit(df, BatchInfo(datetime.now().replace(microsecond=0), batch_id, self.run_id))

    def emit(self, df: DataFrame, batch: BatchInfo) -> None:
        from pyspark.sql import functions as F

        columns = [F.col(quoted(f.name)) for f in self.schema.fields]
        if self.with_batch_time:
            columns.insert(0, F.lit(batch.time).cast("timestamp").alias("batch_time"))
        out = df.select(*columns)
        if self.sink.counts_rows and self.sink.delivery is not Delivery.EXACTLY_ONCE:
            rows = self.sink.write(out, batch) or 0
        else:
            out = out.persist()
            try:
                rows = out.count()
                if rows or self.sink.delivery is not Delivery.EXACTLY_ONCE:  # no empty files
                    self.sink.write(out, batch)
            finally:
                out.unpersist()
        if self.layout is not None:
            record_batch(self.layout, batch.time_ms, batch.batch_id, rows)
        stats_for(self.run_key).record(batch.label, rows)
        if self.sink.reports_progress:
            print(
                f"[sparkkit] batch {batch.label}: {rows} rows -> {self.sink.address}",
                file=sys.stderr,
                flush=True,
            )
