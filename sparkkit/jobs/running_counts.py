"""running_counts: each key's total since the start, emitted for the keys that changed in a batch.

DStream: ``updateStateByKey`` keeps ``(total, idle batches)`` per key and drops a key idle for
``--state-timeout``, so state stays bounded. Structured: ``transformWithStateInPandas`` with a
value state whose TTL is the timeout, so each micro-batch touches only keys with new rows (expired
values are removed by Spark). Output rows: ``batch_time, key, count`` (the total so far).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sparkkit.config import JobConfig
from sparkkit.jobs.base import Job, StructuredPlan
from sparkkit.jobs.keys import check_keying, dstream_keys, structured_keys
from sparkkit.jobs.state import dstream_checkpoint_interval, require_checkpoint, require_rocksdb

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming.stateful_processor import StatefulProcessorHandle, TimerValues
    from pyspark.streaming import DStream

State = tuple[int, int]  # (total, batches idle)


class _Update:
    """``updateStateByKey`` function: add the batch's occurrences; forget keys idle too long."""

    def __init__(self, timeout_batches: int | None) -> None:
        self.timeout_batches = timeout_batches

    def __call__(self, new: Iterable[int], state: State | None) -> State | None:
        total, idle = state if state is not None else (0, 0)
        added = sum(new)
        if added:
            return (total + added, 0)
        idle += 1
        if self.timeout_batches is not None and idle >= self.timeout_batches:
            return None
        return (total, idle)


def _changed(item: tuple[str, State | None]) -> bool:
    return item[1] is not None and item[1][1] == 0


def _total(item: tuple[str, State | None]) -> tuple[str, int]:
    return (item[0], item[1][0] if item[1] is not None else 0)


def running_count_processor(ttl_ms: int | None) -> Any:
    """A StatefulProcessor holding one running total per key (built lazily: imports pandas)."""
    import pandas as pd
    from pyspark.sql.streaming.stateful_processor import StatefulProcessor

    class RunningCount(StatefulProcessor):
        def init(self, handle: StatefulProcessorHandle) -> None:
            self.total = handle.getValueState("total", "count BIGINT", ttl_ms)

        def handleInputRows(
            self,
            key: Any,
            rows: Iterator[pd.DataFrame],
            timerValues: TimerValues,
        ) -> Iterator[pd.DataFrame]:
            seen = sum(len(frame) for frame in rows)
            current = self.total.get()
            total = (current[0] if current else 0) + seen
            self.total.update((total,))
            yield pd.DataFrame({"key": [key[0]], "count": [total]})

        def close(self) -> None:
            pass

    return RunningCount()


class RunningCounts(Job):
    name = "running_counts"
    summary = "each key's total since the start, for keys that changed; rows batch_time, key, count"
    columns = (("key", "string"), ("count", "bigint"))
    extra_options = ("key", "state_timeout", "state_store")
    state_options = ("key", "state_store")
    input_formats = ("text", "json")

    def check(self, config: JobConfig) -> None:
        check_keying(config, self.name)
        require_checkpoint(config, self.name)
        if config.api == "dstream":
            dstream_checkpoint_interval(config, config.batch_interval)
        else:
            require_rocksdb(config, "running_counts --api structured")

    def dstream(self, stream: DStream[Any], config: JobConfig) -> DStream[Any]:
        timeout = config.state_timeout
        batches = -(-timeout.ms // config.batch_interval.ms) if timeout else None
        state = dstream_keys(stream, config).map(lambda k: (k, 1)).updateStateByKey(_Update(batches))
        state.checkpoint(dstream_checkpoint_interval(config, config.batch_interval).pyspark_seconds)
        return state.filter(_changed).map(_total)

    def structured(self, stream: DataFrame, config: JobConfig) -> StructuredPlan:
        ttl = config.state_timeout.ms if config.state_timeout else None
        keyed = structured_keys(stream, config).select("key")
        totals = keyed.groupBy("key").transformWithStateInPandas(
            statefulProcessor=running_count_processor(ttl),
            outputStructType="key STRING, count BIGINT",
            outputMode="Update",
            timeMode="ProcessingTime" if ttl else "None",
        )
        return StructuredPlan(totals, output_mode="update")
