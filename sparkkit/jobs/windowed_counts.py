"""windowed_counts: counts per key over a sliding window.

DStream: ``reduceByKeyAndWindow`` over batch time. Incrementally by default: each slide adds the
newest batches and subtracts the oldest with the inverse function, and keys whose count falls
to zero are dropped so state does not grow with dead keys; ``--incremental false`` recomputes
the whole window each slide. Structured: event-time ``window()`` (tumbling when slide = window)
with a watermark; records later than the watermark are dropped by Spark and counted in the
run's statistics. Output rows: ``window_start, window_end, key, count``; a DStream window ending
at batch time T covers the batches of (T - window, T], i.e. event times [T - window, T) when
each batch's records carry the batch's start as event time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from operator import add, sub
from typing import TYPE_CHECKING, Any

from sparkkit.config import JobConfig
from sparkkit.errors import ConfigError
from sparkkit.jobs.base import Job, StructuredPlan
from sparkkit.jobs.keys import check_keying, dstream_key_counts, structured_keys
from sparkkit.jobs.state import dstream_checkpoint_interval, require_checkpoint

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame
    from pyspark.streaming import DStream


def positive(pair: tuple[str, int]) -> bool:
    return pair[1] > 0


class _WindowRows:
    """Stamps each (key, count) of the window ending at batch time T with [T - window, T]."""

    def __init__(self, window_ms: int) -> None:
        self.window = timedelta(milliseconds=window_ms)

    def __call__(self, time: datetime, rdd: RDD[tuple[str, int]]) -> RDD[tuple[Any, ...]]:
        start, end = time - self.window, time
        return rdd.map(lambda kv: (start, end, kv[0], kv[1]))


class WindowedCounts(Job):
    name = "windowed_counts"
    summary = "counts per key over a sliding window; rows window_start, window_end, key, count"
    columns = (
        ("window_start", "timestamp"),
        ("window_end", "timestamp"),
        ("key", "string"),
        ("count", "bigint"),
    )
    extra_options = (
        "window", "slide", "incremental", "watermark", "output_mode", "key", "event_time", "state_store",
    )  # fmt: skip
    state_options = ("window", "slide", "incremental", "key", "event_time", "watermark", "state_store")
    input_formats = ("text", "json")
    has_batch_time = False

    def check(self, config: JobConfig) -> None:
        if config.window is None:
            raise ConfigError("--window", "", "windowed_counts needs --window (and optionally --slide)")
        check_keying(config, self.name)
        if config.api == "dstream":
            if config.incremental:
                require_checkpoint(config, self.name)
            if config.checkpoint:
                dstream_checkpoint_interval(config, config.effective_slide or config.window)

    def dstream(self, stream: DStream[Any], config: JobConfig) -> DStream[Any]:
        assert config.window is not None
        window, slide = config.window, config.effective_slide or config.window
        pairs = dstream_key_counts(stream, config)
        if config.incremental:
            counts = pairs.reduceByKeyAndWindow(
                add, sub, window.pyspark_seconds, slide.pyspark_seconds, filterFunc=positive
            )
            if config.checkpoint:
                counts.checkpoint(dstream_checkpoint_interval(config, slide).pyspark_seconds)
        else:
            counts = pairs.reduceByKeyAndWindow(add, None, window.pyspark_seconds, slide.pyspark_seconds)
        stamp = _WindowRows(window.ms)
        return counts.transform(lambda time, rdd: stamp(time, rdd))

    def structured(self, stream: DataFrame, config: JobConfig) -> StructuredPlan:
        from pyspark.sql import functions as F

        assert config.window is not None
        window, slide = config.window, config.effective_slide or config.window
        events = structured_keys(stream, config).withWatermark(
            "event_time", f"{config.watermark.ms} milliseconds"
        )
        grouped = events.groupBy(
            F.window("event_time", f"{window.ms} milliseconds", f"{slide.ms} milliseconds"), "key"
        ).count()
        rows = grouped.select(
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            "key",
            "count",
        )
        return StructuredPlan(rows, output_mode=config.output_mode)
