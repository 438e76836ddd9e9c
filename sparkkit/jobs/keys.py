"""Turning input records into keys, the same rule in both APIs.

Text lines are split into words exactly as Python's ``str.split()`` does, case kept; JSON
records are keyed by the ``--key`` field. Structured jobs also get an ``event_time`` column:
the ``--event-time`` field, or the micro-batch's timestamp (processing time) when none is given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sparkkit.config import JobConfig
from sparkkit.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.streaming import DStream

#: Java regex matching exactly the characters for which Python's ``str.isspace()`` is true:
#: Unicode White_Space plus the ASCII separators U+001C..U+001F.
WHITESPACE_REGEX = r"(?U)[\s\x{1C}-\x{1F}]+"


def check_keying(config: JobConfig, job: str) -> None:
    """JSON sources need ``--key``; ``--event-time`` applies to JSON sources in Structured jobs."""
    formats = {
        a.params.get("format", "text") for a in config.source if a.scheme in ("file", "kafka", "generator")
    }
    if "json" in formats and not config.key:
        raise ConfigError("--key", "", f"{job} over a format=json source needs --key FIELD to count by")
    if config.event_time and "json" not in formats:
        raise ConfigError(
            "--event-time",
            config.event_time,
            "needs a format=json source (file://, kafka:// or generator://)",
        )


def record_keys(record: Any, field: str | None) -> list[str]:
    """The keys of one DStream record: words of a line, or the ``field`` of a JSON object."""
    if isinstance(record, str):
        return record.split()
    if isinstance(record, dict) and field is not None:
        value: Any = record
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return [] if value is None else [str(value)]
    return []


def dstream_keys(stream: DStream[Any], config: JobConfig) -> DStream[str]:
    field = config.key
    return stream.flatMap(lambda record: record_keys(record, field))


def counted(keys: Iterable[str]) -> Iterator[tuple[str, int]]:
    """One partition's keys as ``(key, occurrences)``: counted in C (:class:`~collections.Counter`)
    rather than one Python call per key, and only distinct keys go on to the shuffle."""
    return iter(Counter(keys).items())


def dstream_key_counts(stream: DStream[Any], config: JobConfig) -> DStream[tuple[str, int]]:
    """``(key, n)`` pairs to sum by key: each partition's occurrences of each key."""
    return dstream_keys(stream, config).mapPartitions(counted)


def structured_keys(stream: DataFrame, config: JobConfig) -> DataFrame:
    """Columns ``key`` (string) and ``event_time`` (timestamp), one row per key occurrence."""
    from pyspark.sql import functions as F

    if config.key:
        event_time = (
            F.col(config.event_time).cast("timestamp") if config.event_time else F.current_timestamp()
        )
        keyed = stream.select(F.col(config.key).cast("string").alias("key"), event_time.alias("event_time"))
        return keyed.where(F.col("key").isNotNull())
    words = F.explode(F.split(F.col("value"), WHITESPACE_REGEX)).alias("key")
    keyed = stream.select(words, F.current_timestamp().alias("event_time"))
    return keyed.where(F.col("key") != "")
