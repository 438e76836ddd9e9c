"""``generator://NAME?rate=N&keys=K&seed=S[&count=C][&format=text|json][&prefix=P][&start=MS]``.

A synthetic stream, deterministic for a seed and identical in both APIs. Record ``i`` has the
key ``P-k`` with ``k = generator_key(i, seed, keys)``: a cheap multiplicative hash computed the
same way in Python (DStream) and Spark SQL (Structured). ``P`` is ``prefix``, by default the
stream's ``NAME``. ``rate`` is records per second; with ``count`` the stream ends after that many
records (useful for exact tests and demos).

``format=text`` (the default) gives the line ``P-k`` per record: a ``str`` in a DStream, a
``value`` string column in Structured Streaming. ``format=json`` gives records

    {"key": "P-k", "seq": i, "value": generator_value(i, seed), "ts": t}

with ``value`` a float in [0, 100) with two decimals (another hash, also the same in both APIs)
and ``t = origin + (i * 1000) // rate`` milliseconds since the epoch: record ``i``'s due time.
Structured: columns ``key STRING, seq BIGINT, value DOUBLE, ts TIMESTAMP``; DStream: dicts with
``ts`` as an ISO-8601 UTC string with milliseconds (``2026-11-25T10:00:00.123Z``), as a JSON
line holding it parses to. The origin is ``start`` (epoch ms) when given; otherwise the stream's
first start, logged in ``origin.json`` in the source's state directory (in the checkpoint when
there is one) so that a restart continues the same event times. :func:`generator_records` gives
the records a test expects.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkkit.checkpoint import write_json_atomic
from sparkkit.errors import CheckpointError, ConfigError
from sparkkit.sources.base import Source, SourceContext
from sparkkit.sources.files import batch_ms
from sparkkit.sources.ticker import planned_stream

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.streaming import DStream, StreamingContext

_SEED_STRIDE = 7919
_MULTIPLIER = 2654435761  # Knuth's multiplicative hash constant
_VALUE_STRIDE = 104729  # the values' hash: another prime stride and multiplier (< 2**32) ...
_VALUE_MULTIPLIER = 2246822519
_VALUE_SALT = 12345  # ... and an offset, so that value and key are not related
_VALUE_STEPS = 10_000  # values 0.00 .. 99.99
_MOD_IN = 2**31
_MOD_OUT = 2**32
#: The latest ``start`` accepted: 9999-12-31T23:59:59.999Z, the last instant Python's datetime holds.
MAX_START_MS = 253_402_300_799_999
FORMATS = ("text", "json")
_PARAMS = {
    "rate": "a whole number of records per second >= 1",
    "keys": "a whole number >= 1",
    "seed": "a whole number",
    "count": "a whole number >= 0",
    "format": "text or json",
    "prefix": "a non-empty word without whitespace",
    "start": f"a whole number of milliseconds since the epoch, 0 .. {MAX_START_MS}",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def generator_key(i: int, seed: int, keys: int) -> int:
    """The key index of record ``i``; the Structured form computes the same in SQL."""
    h = ((i + seed * _SEED_STRIDE) % _MOD_IN) * _MULTIPLIER % _MOD_OUT
    return (h >> 8) % keys


def _value_step(i: int, seed: int) -> int:
    h = ((i + seed * _VALUE_STRIDE + _VALUE_SALT) % _MOD_IN) * _VALUE_MULTIPLIER % _MOD_OUT
    return (h >> 8) % _VALUE_STEPS


def generator_value(i: int, seed: int) -> float:
    """The ``value`` of record ``i``: a float in [0, 100) with two decimals.

    An integer 0 .. 9999 divided by 100, so the double is the same as Spark SQL's
    ``CAST(n AS DOUBLE) / 100`` (both round the exact quotient once, to the nearest double).
    """
    return _value_step(i, seed) / 100


def generator_ts(i: int, rate: int, origin_ms: int) -> int:
    """Record ``i``'s event time, epoch milliseconds: when it is due in a stream begun at ``origin_ms``."""
    return origin_ms + (i * 1000) // rate


def iso_millis(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds: ``2026-11-25T10:00:00.123Z``."""
    moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def generator_lines(name: str, start: int, stop: int, seed: int, keys: int) -> list[str]:
    """Records ``start`` .. ``stop - 1`` of a text stream (what a test expects to be counted);
    ``name`` is the stream's prefix (by default its NAME)."""
    return [f"{name}-{generator_key(i, seed, keys)}" for i in range(start, stop)]


def generator_record(i: int, prefix: str, seed: int, keys: int, rate: int, origin_ms: int) -> dict[str, Any]:
    """Record ``i`` of a ``format=json`` stream, with ``ts`` as epoch milliseconds (an ``int``)."""
    return {
        "key": f"{prefix}-{generator_key(i, seed, keys)}",
        "seq": i,
        "value": generator_value(i, seed),
        "ts": generator_ts(i, rate, origin_ms),
    }


def generator_records(
    name: str,
    start: int,
    stop: int,
    seed: int,
    keys: int,
    rate: int,
    origin_ms: int,
    prefix: str | None = None,
) -> list[dict[str, Any]]:
    """Records ``start`` .. ``stop - 1`` of a ``format=json`` stream, as a test expects them.

    Each is ``{"key": "P-k", "seq": i, "value": float, "ts": int}`` with ``P`` = ``prefix`` or
    ``name`` and ``ts`` in whole **milliseconds since the epoch** (UTC), an ``int``: the
    Structured column is ``timestamp_millis`` of it, the DStream field ``iso_millis`` of it.
    ``origin_ms`` is the stream's ``start=`` (or its logged origin).
    """
    return [generator_record(i, prefix or name, seed, keys, rate, origin_ms) for i in range(start, stop)]


def _dstream_record(prefix: str, seed: int, keys: int, rate: int, origin_ms: int, i: int) -> dict[str, Any]:
    record = generator_record(i, prefix, seed, keys, rate, origin_ms)
    record["ts"] = iso_millis(record["ts"])
    return record


def _text_line(prefix: str, seed: int, keys: int, i: int) -> str:
    return f"{prefix}-{generator_key(i, seed, keys)}"


def logged_origin(path: Path, first: int) -> int:
    """The stream's origin (epoch ms) logged at ``path``; logs ``first`` when there is none yet."""
    try:
        return int(json.loads(path.read_text())["origin_ms"])
    except FileNotFoundError:
        write_json_atomic(path, {"origin_ms": first})
        return first
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is unreadable ({exc}); reset the checkpoint") from None


class _GeneratorPlan:
    """The per-batch transform: records due by the batch time since the stream's first batch."""

    # Defaults for plans pickled (in a DStream checkpoint) before these options existed.
    fmt = "text"
    prefix: str | None = None
    start: int | None = None

    def __init__(
        self,
        name: str,
        rate: int,
        keys: int,
        seed: int,
        count: int | None,
        interval_ms: int,
        start_path: str,
        fmt: str = "text",
        prefix: str | None = None,
        start: int | None = None,
    ) -> None:
        self.name, self.rate, self.keys, self.seed, self.count = name, rate, keys, seed, count
        self.interval_ms = interval_ms
        self.start_path = start_path
        self.fmt, self.prefix, self.start = fmt, prefix, start

    def _origin(self, batch: int) -> int:
        """The stream's start: logged at its first batch, read back after a recovery.

        It schedules the records (``due``); event times count from ``start`` when given."""
        return logged_origin(Path(self.start_path), batch - self.interval_ms)

    def due(self, batch: int, origin: int) -> int:
        """How many records are due by batch time ``batch`` for a stream that began at ``origin``."""
        n = self.rate * max(0, batch - origin) // 1000
        return n if self.count is None else min(n, self.count)

    def __call__(self, time: datetime, tick: RDD[Any]) -> RDD[Any]:
        batch = batch_ms(time)
        origin = self._origin(batch)
        start, stop = self.due(batch - self.interval_ms, origin), self.due(batch, origin)
        prefix = self.prefix or self.name
        numbers = tick.context.range(start, stop)
        if self.fmt == "json":
            ts_origin = self.start if self.start is not None else origin
            return numbers.map(partial(_dstream_record, prefix, self.seed, self.keys, self.rate, ts_origin))
        return numbers.map(partial(_text_line, prefix, self.seed, self.keys))


class GeneratorSource(Source):
    """Synthetic text lines or JSON records at a steady rate, deterministic for a seed."""

    scheme = "generator"

    def _int(
        self, key: str, default: int | None, minimum: int | None, maximum: int | None = None
    ) -> int | None:
        text = self.address.params.get(key)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            value = None
        if (
            value is None
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)
        ):
            raise ConfigError("--source", self.address.raw, f"{key} must be {_PARAMS[key]}")
        return value

    @property
    def stream_name(self) -> str:
        return self.address.path

    @property
    def rate(self) -> int:
        return self._int("rate", 10, 1) or 10

    @property
    def keys(self) -> int:
        return self._int("keys", 100, 1) or 100

    @property
    def seed(self) -> int:
        return self._int("seed", 0, None) or 0

    @property
    def count(self) -> int | None:
        return self._int("count", None, 0)

    @property
    def start(self) -> int | None:
        """``start=``: the event-time origin in epoch milliseconds, if given."""
        return self._int("start", None, 0, MAX_START_MS)

    @property
    def prefix(self) -> str:
        """What keys start with: ``prefix=``, by default the stream's NAME."""
        text = self.address.params.get("prefix")
        if text is None:
            return self.stream_name
        if not text or any(c.isspace() for c in text):
            raise ConfigError("--source", self.address.raw, f"prefix must be {_PARAMS['prefix']}")
        return text

    @property
    def record_format(self) -> str:
        fmt = self.address.params.get("format", "text")
        if fmt not in FORMATS:
            raise ConfigError("--source", self.address.raw, f"format must be {_PARAMS['format']}")
        return fmt

    def check(self) -> None:
        unknown = sorted(set(self.address.params) - set(_PARAMS))
        if unknown:
            raise ConfigError(
                "--source", self.address.raw, f"unknown option {unknown[0]!r}; accepted: {', '.join(_PARAMS)}"
            )
        for prop in ("rate", "keys", "seed", "count", "record_format", "prefix", "start"):
            getattr(self, prop)

    def origin_ms(self, ctx: SourceContext) -> int:
        """The event-time origin of a Structured stream: ``start``, else the logged first start
        (now, at the first start), so that a restart on the same checkpoint keeps the event times."""
        if self.start is not None:
            return self.start
        now = round(datetime.now(timezone.utc).timestamp() * 1000)
        return logged_origin(ctx.state_dir / self.name / "origin.json", now)

    def dstream(self, ssc: StreamingContext, ctx: SourceContext) -> DStream[Any]:
        state = ctx.state_dir / self.name
        plan = _GeneratorPlan(
            self.stream_name,
            self.rate,
            self.keys,
            self.seed,
            self.count,
            ctx.batch_interval.ms,
            str(state / "origin.json"),
            fmt=self.record_format,
            prefix=self.prefix,
            start=self.start,
        )
        return planned_stream(ssc, state, plan)

    @property
    def always_new_data(self) -> bool:
        return True  # Spark's rate source, whose offsets follow the clock

    def structured(self, spark: SparkSession, ctx: SourceContext) -> DataFrame:
        from pyspark.sql import functions as F

        stream = spark.readStream.format("rate").option("rowsPerSecond", self.rate).load()
        if self.count is not None:
            stream = stream.where(F.col("value") < self.count)
        seq = F.col("value")
        key = F.concat(F.lit(self.prefix + "-"), _sql_key(seq, self.seed, self.keys).cast("string"))
        if self.record_format == "text":
            return stream.select(key.alias("value"))
        origin = self.origin_ms(ctx)
        ts = F.lit(origin) + F.expr(f"(value * 1000) div {self.rate}")
        return stream.select(
            key.alias("key"),
            seq.cast("bigint").alias("seq"),
            _sql_value(seq, self.seed).alias("value"),
            F.timestamp_millis(ts).alias("ts"),
        )


def _sql_key(i: Column, seed: int, keys: int) -> Column:
    """:func:`generator_key` as a column expression."""
    from pyspark.sql import functions as F

    inner = F.pmod(i + F.lit(seed * _SEED_STRIDE % _MOD_IN), F.lit(_MOD_IN))  # same pmod, no overflow
    h = F.pmod(inner * F.lit(_MULTIPLIER), F.lit(_MOD_OUT))
    return F.pmod(F.floor(h / 256), F.lit(keys))


def _sql_value(i: Column, seed: int) -> Column:
    """:func:`generator_value` as a column expression: an integer 0 .. 9999, then / 100 as DOUBLE."""
    from pyspark.sql import functions as F

    inner = F.pmod(i + F.lit((seed * _VALUE_STRIDE + _VALUE_SALT) % _MOD_IN), F.lit(_MOD_IN))
    h = F.pmod(inner * F.lit(_VALUE_MULTIPLIER), F.lit(_MOD_OUT))
    step = F.pmod(F.shiftright(h, 8), F.lit(_VALUE_STEPS))
    return step.cast("double") / F.lit(100.0)
