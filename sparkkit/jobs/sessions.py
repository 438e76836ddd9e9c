"""sessions: activity per key grouped into sessions that close after ``--gap`` of inactivity.

Each closed session is emitted once, as ``key, session_start, session_end, count``, where the
end is the last event's time plus the gap, and two events of a key are in one session when the
later is at most ``gap`` after the earlier (both as Spark's ``session_window`` does).

Structured: ``session_window`` over the event time with a watermark, in append mode, or with
``--sessionizer timers`` a ``transformWithStateInPandas`` processor that keeps each key's open
session in a value state and closes it from an event-time timer at last event + gap. DStream:
``updateStateByKey`` carrying each key's open session; a DStream record's event time is the
start of its batch (batch time minus the batch interval), the same convention as windowed_counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sparkkit.config import JobConfig
from sparkkit.errors import ConfigError
from sparkkit.jobs.base import Job, StructuredPlan
from sparkkit.jobs.keys import check_keying, dstream_keys, structured_keys
from sparkkit.jobs.state import dstream_checkpoint_interval, require_checkpoint, require_rocksdb
from sparkkit.sources.files import batch_ms

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame
    from pyspark.streaming import DStream

Open = tuple[int, int, int, int]  # start ms, last event ms, count, batches idle since
Closed = tuple[int, int, int]  # start ms, end ms, count
SessionState = tuple[Open | None, Closed | None]


class _Sessionize:
    """``updateStateByKey`` function over event times in ms (all equal within one batch)."""

    def __init__(self, gap_ms: int, interval_ms: int) -> None:
        self.gap = gap_ms
        self.interval = interval_ms

    def __call__(self, new: Iterable[int], state: SessionState | None) -> SessionState | None:
        times = list(new)
        current = state[0] if state is not None else None
        closed: Closed | None = None
        if times:
            t = max(times)
            if current is not None and t - current[1] > self.gap:
                closed = (current[0], current[1] + self.gap, current[2])
                current = None
            if current is None:
                current = (min(times), t, len(times), 0)
            else:
                current = (current[0], t, current[2] + len(times), 0)
        elif current is not None:
            start, last, count, idle = current
            idle += 1
            if idle * self.interval > self.gap:
                closed, current = (start, last + self.gap, count), None
            else:
                current = (start, last, count, idle)
        if current is None and closed is None:
            return None
        return (current, closed)


class _EventTimes:
    """Pairs each key with its event time: the start of the batch that holds it."""

    def __init__(self, interval_ms: int) -> None:
        self.interval = interval_ms

    def __call__(self, time: datetime, rdd: RDD[str]) -> RDD[tuple[str, int]]:
        event = batch_ms(time) - self.interval
        return rdd.map(lambda key: (key, event))


def _closed(item: tuple[str, SessionState | None]) -> bool:
    return item[1] is not None and item[1][1] is not None


def _session_row(item: tuple[str, SessionState | None]) -> tuple[str, datetime, datetime, int]:
    assert item[1] is not None and item[1][1] is not None
    start, end, count = item[1][1]
    return (item[0], datetime.fromtimestamp(start / 1000), datetime.fromtimestamp(end / 1000), count)


def session_processor(gap_ms: int) -> Any:
    """A StatefulProcessor keeping each key's open session; an event-time timer closes it."""
    import pandas as pd
    from pyspark.sql.streaming.stateful_processor import StatefulProcessor

    def row(key: str, start: int, last: int, count: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "key": [key],
                "session_start": [pd.Timestamp(start, unit="ms")],
                "session_end": [pd.Timestamp(last + gap_ms, unit="ms")],
                "count": [count],
            }
        )

    class SessionProcessor(StatefulProcessor):
        def init(self, handle: Any) -> None:
            self.handle = handle
            self.session = handle.getValueState("session", "start LONG, last LONG, count LONG")

        def handleInputRows(self, key: Any, rows: Any, timerValues: Any) -> Any:
            times = sorted(
                int(t.value // 1_000_000) for frame in rows for t in pd.to_datetime(frame["event_time"])
            )
            if not times:
                return
            current = self.session.get()
            if current:
                start, last, count = current
                self.handle.deleteTimer(last + gap_ms)
            else:
                start, last, count = times[0], times[0], 0
            for t in times:
                if count and t - last > gap_ms:
                    yield row(key[0], start, last, count)
                    start, last, count = t, t, 0
                start, last, count = min(start, t), max(last, t), count + 1
            self.session.update((start, last, count))
            self.handle.registerTimer(last + gap_ms)

        def handleExpiredTimer(self, key: Any, timerValues: Any, expiredTimerInfo: Any) -> Any:
            current = self.session.get()
            if current:
                yield row(key[0], *current)
            self.session.clear()

        def close(self) -> None:
            pass

    return SessionProcessor()


class Sessions(Job):
    name = "sessions"
    summary = "sessions per key closed after --gap idle; rows key, session_start, session_end, count"
    columns = (
        ("key", "string"),
        ("session_start", "timestamp"),
        ("session_end", "timestamp"),
        ("count", "bigint"),
    )
    extra_options = ("gap", "watermark", "key", "event_time", "state_store", "sessionizer")
    state_options = ("gap", "key", "event_time", "watermark", "state_store", "sessionizer")
    input_formats = ("text", "json")
    has_batch_time = False

    def check(self, config: JobConfig) -> None:
        if config.gap is None:
            raise ConfigError("--gap", "", "sessions needs --gap, the inactivity that closes a session")
        check_keying(config, self.name)
        require_checkpoint(config, self.name)
        if config.api == "dstream":
            dstream_checkpoint_interval(config, config.batch_interval)
        elif config.sessionizer == "timers":
            require_rocksdb(config, "--sessionizer timers")

    def dstream(self, stream: DStream[Any], config: JobConfig) -> DStream[Any]:
        assert config.gap is not None
        interval = config.batch_interval.ms
        stamp = _EventTimes(interval)
        timed = dstream_keys(stream, config).transform(lambda time, rdd: stamp(time, rdd))
        state = timed.updateStateByKey(_Sessionize(config.gap.ms, interval))
        state.checkpoint(dstream_checkpoint_interval(config, config.batch_interval).pyspark_seconds)
        return state.filter(_closed).map(_session_row)

    def structured(self, stream: DataFrame, config: JobConfig) -> StructuredPlan:
        from pyspark.sql import functions as F

        assert config.gap is not None
        events = structured_keys(stream, config).withWatermark(
            "event_time", f"{config.watermark.ms} milliseconds"
        )
        if config.sessionizer == "timers":
            closed = events.groupBy("key").transformWithStateInPandas(
                statefulProcessor=session_processor(config.gap.ms),
                outputStructType="key STRING, session_start TIMESTAMP, session_end TIMESTAMP, count BIGINT",
                outputMode="Append",
                timeMode="EventTime",
            )
            return StructuredPlan(closed, output_mode="append")
        sessions = events.groupBy(
            F.session_window("event_time", f"{config.gap.ms} milliseconds"), "key"
        ).count()
        rows = sessions.select(
            "key",
            F.col("session_window.start").alias("session_start"),
            F.col("session_window.end").alias("session_end"),
            "count",
        )
        return StructuredPlan(rows, output_mode="append")
