"""Per-batch metrics: one flat JSON record per micro-batch or DStream batch, kept in a JSON-lines file.

A record holds the few numbers people watch (rates, batch time, state size, watermark, Kafka lag,
sparkkit's own counts) under fixed keys, so ``sparkkit status`` and the live view read every
query alike; a Structured record also keeps Spark's whole progress under ``progress``.

Kafka lag is ``latestOffset - endOffset`` summed over partitions. Spark reports ``latestOffset``
only for sources that report it: its own Kafka connector does, and so does sparkkit's Python Data
Source (:mod:`sparkkit.sources.kafka`, through ``reportLatestOffset``: the end offsets it fetched
to plan the batch). For a source that reports none, a caller may pass the latest offsets itself.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pyspark.sql import Observation

#: A run's metrics file, in ``ROOT/<job or pipeline>/``.
METRICS_FILE = "metrics.jsonl"

#: The watermark Spark reports before any event time has been seen.
NO_WATERMARK = "1970-01-01T00:00:00.000Z"

#: The fixed keys of a record; sparkkit's counts must not reuse them.
STRUCTURED_KEYS = (
    "time", "query", "api", "batch", "input_rows", "input_rows_per_second", "processed_rows_per_second",
    "batch_duration_ms", "state_rows", "state_memory_bytes", "watermark", "kafka_lag", "output_rows",
    "progress",
)  # fmt: skip
DSTREAM_KEYS = (*STRUCTURED_KEYS[:8], "scheduling_delay_ms", *STRUCTURED_KEYS[8:13])
_RECORD_KEYS = frozenset(STRUCTURED_KEYS) | frozenset(DSTREAM_KEYS)

_PARTITION_KEY = re.compile(r".+:\d+")


def structured_record(
    progress: Mapping[str, Any],
    query: str,
    counts: Mapping[str, int] | None = None,
    latest_offsets: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The record of one micro-batch, from Spark's progress as a dict.

    Parameters
    ----------
    progress : mapping
        ``json.loads(event.progress.json)`` in a listener's ``onQueryProgress``; kept whole.
    query : str
        sparkkit's name for the query.
    counts : mapping, optional
        sparkkit's own counts (``rows_written``, ``dead_letters``, ...), added as top-level keys.
    latest_offsets : mapping, optional
        ``{"topic:partition": offset}`` end of the Kafka log, for sources whose latest offset Spark
        does not report (sparkkit's own Kafka source).
    """
    operators = progress.get("stateOperators") or []
    sink_rows = (progress.get("sink") or {}).get("numOutputRows")
    record: dict[str, Any] = {
        "time": progress.get("timestamp"),
        "query": query,
        "api": "structured",
        "batch": progress.get("batchId"),
        "input_rows": progress.get("numInputRows"),
        "input_rows_per_second": progress.get("inputRowsPerSecond"),
        "processed_rows_per_second": progress.get("processedRowsPerSecond"),
        "batch_duration_ms": batch_duration_ms(progress),
        "state_rows": _sum_of(operators, "numRowsTotal"),
        "state_memory_bytes": _sum_of(operators, "memoryUsedBytes"),
        "watermark": watermark(progress),
        "kafka_lag": kafka_lag(progress.get("sources") or [], latest_offsets),
        "output_rows": sink_rows if sink_rows is not None and sink_rows >= 0 else None,
    }
    record.update(_checked_counts(counts))
    record["progress"] = progress
    return record


def dstream_record(
    query: str,
    batch_time_ms: int,
    records: int | None,
    processing_ms: int,
    scheduling_ms: int,
    counts: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The record of one DStream batch, from its ``BatchInfo`` (delays below 0 mean unknown).

    ``batch`` is the batch time in epoch ms (``time`` the same, as text); the input rate is
    unknown here (it needs the batch interval) and a DStream job reports no state, watermark or
    Kafka lag. ``records`` counts what receivers took in: None for sparkkit's own DStream sources,
    which are not receivers.
    """
    processing = processing_ms if processing_ms >= 0 else None
    record: dict[str, Any] = dict.fromkeys(DSTREAM_KEYS)
    record.update(
        time=iso_time(batch_time_ms),
        query=query,
        api="dstream",
        batch=batch_time_ms,
        input_rows=records,
        processed_rows_per_second=round(records * 1000 / processing, 1) if processing and records else None,
        batch_duration_ms=processing,
        scheduling_delay_ms=scheduling_ms if scheduling_ms >= 0 else None,
    )
    record.update(_checked_counts(counts))
    return record


def observed(observation: Observation) -> dict[str, Any]:
    """The metrics an :class:`~pyspark.sql.Observation` collected, ``{}`` when the action that
    completed it ran no task (a batch without input: Spark then completes it with an empty row,
    which ``Observation.get`` refuses). Call it after the action, never before: it waits."""
    row = observation._jo.getRow()  # type: ignore[union-attr]
    return observation.get if row.size() else {}


def iso_time(epoch_ms: int) -> str:
    """Epoch milliseconds as Spark writes progress times: ``2026-11-25T14:08:37.203Z``."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def batch_duration_ms(progress: Mapping[str, Any]) -> int | None:
    """``batchDuration``, or the trigger's execution time where Spark reports no batch duration."""
    if progress.get("batchDuration") is not None:
        return int(progress["batchDuration"])
    trigger = (progress.get("durationMs") or {}).get("triggerExecution")
    return int(trigger) if trigger is not None else None


def watermark(progress: Mapping[str, Any]) -> str | None:
    """The event-time watermark; None before the first one (Spark then reports the epoch)."""
    mark = (progress.get("eventTime") or {}).get("watermark")
    return None if mark in (None, NO_WATERMARK) else str(mark)


def kafka_offsets(offsets: Any, description: str = "") -> dict[str, int] | None:
    """A source's offsets as ``{"topic:partition": offset}``, or None when they are not Kafka's.

    Reads sparkkit's form (``{"t:0": 5}``) and, for a source described as Kafka, Spark's
    connector's form (``{"t": {"0": 5}}``); a JSON string is parsed first.
    """
    if isinstance(offsets, str):
        try:
            offsets = json.loads(offsets)
        except ValueError:
            return None
    if not isinstance(offsets, dict) or not offsets:
        return None
    if all(isinstance(k, str) and _PARTITION_KEY.fullmatch(k) and _is_int(v) for k, v in offsets.items()):
        return {k: int(v) for k, v in offsets.items()}
    nested = all(
        isinstance(parts, dict) and all(str(p).isdigit() and _is_int(o) for p, o in parts.items())
        for parts in offsets.values()
    )
    if "kafka" in description.lower() and nested:
        return {f"{topic}:{p}": int(o) for topic, parts in offsets.items() for p, o in parts.items()}
    return None


def kafka_lag(
    sources: Iterable[Mapping[str, Any]], latest_offsets: Mapping[str, int] | None = None
) -> int | None:
    """Records in Kafka not yet read: ``latest - end`` summed over partitions and Kafka sources.

    A source's ``latestOffset`` as Spark reports it wins; ``latest_offsets`` fills in for sources
    without one. Partitions the query has not read yet are not counted. None when no Kafka source
    has a known latest offset.
    """
    lag: int | None = None
    for source in sources:
        description = str(source.get("description", ""))
        end = kafka_offsets(source.get("endOffset"), description)
        if end is None:
            continue
        latest = kafka_offsets(source.get("latestOffset"), description) or latest_offsets or {}
        behind = [max(0, int(latest[key]) - offset) for key, offset in end.items() if key in latest]
        if behind:
            lag = (lag or 0) + sum(behind)
    return lag


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sum_of(operators: list[Mapping[str, Any]], key: str) -> int | None:
    values = [op[key] for op in operators if op.get(key) is not None]
    return sum(values) if values else None


def _checked_counts(counts: Mapping[str, int] | None) -> dict[str, int]:
    """sparkkit's counts, refused when one would overwrite a record's own key."""
    counts = dict(counts or {})
    clash = sorted(set(counts) & _RECORD_KEYS)
    if clash:
        raise ValueError(f"counts may not use the record keys {', '.join(clash)}")
    return counts


class MetricsLog:
    """A JSON-lines file of records, appended to by listener threads.

    Each record is one line, written whole under a lock and flushed, so a reader sees complete
    lines; the file is opened for appending, so a restarted run continues it. A line torn by a
    crash is ended before the first new record, which keeps the fragment on a line of its own.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file: TextIO | None = self.path.open("a", encoding="utf-8")
        if self._torn_tail():
            self._file.write("\n")
            self._file.flush()

    def _torn_tail(self) -> bool:
        with self.path.open("rb") as existing:
            if existing.seek(0, 2) == 0:
                return False
            existing.seek(-1, 2)
            return existing.read(1) != b"\n"

    def append(self, record: Mapping[str, Any]) -> None:
        """Write a record as one line (datetimes and other non-JSON values as strings); a batch observer."""
        line = json.dumps(record, default=str) + "\n"
        with self._lock:
            if self._file is None:
                raise ValueError(f"metrics log {self.path} is closed")
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics file, in the order written.

    Lines that are not a JSON object are skipped: a crash mid-write leaves a torn line, at the
    end or, after a restarted run appended, in the middle.
    """
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def latest_by_query(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest (last written) record of each query, queries in the order first seen."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.get("query") is not None:
            latest[str(record["query"])] = dict(record)
    return latest
