"""``generator://NAME?rate=N&keys=K&seed=S[&count=C]``: a synthetic stream of text lines.

Record ``i`` of a stream is the line ``NAME-k`` where ``k = generator_key(i, seed, keys)``: a
cheap multiplicative hash computed the same way in Python (DStream) and Spark SQL (Structured),
so both APIs produce the same records for the same seed. ``rate`` is records per second; with
``count`` the stream ends after that many records (useful for exact tests and demos).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkkit.checkpoint import write_json_atomic
from sparkkit.errors import CheckpointError, ConfigError
from sparkkit.sources.base import Source, SourceContext
from sparkkit.sources.files import batch_ms
from sparkkit.sources.ticker import planned_stream

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.streaming import DStream, StreamingContext

_SEED_STRIDE = 7919
_MULTIPLIER = 2654435761  # Knuth's multiplicative hash constant
_MOD_IN = 2**31
_MOD_OUT = 2**32
_PARAMS = {
    "rate": "a whole number of records per second >= 1",
    "keys": "a whole number >= 1",
    "seed": "a whole number",
    "count": "a whole number >= 0",
}


def generator_key(i: int, seed: int, keys: int) -> int:
    """The key index of record ``i``; the Structured form computes the same in SQL."""
    h = ((i + seed * _SEED_STRIDE) % _MOD_IN) * _MULTIPLIER % _MOD_OUT
    return (h >> 8) % keys


def generator_lines(name: str, start: int, stop: int, seed: int, keys: int) -> list[str]:
    """Records ``start`` .. ``stop - 1`` of a stream (what a test expects to be counted)."""
    return [f"{name}-{generator_key(i, seed, keys)}" for i in range(start, stop)]


class _GeneratorPlan:
    """The per-batch transform: records due by the batch time since the stream's first batch."""

    def __init__(
        self, name: str, rate: int, keys: int, seed: int, count: int | None, interval_ms: int, start_path: str
    ) -> None:
        self.name, self.rate, self.keys, self.seed, self.count = name, rate, keys, seed, count
        self.interval_ms = interval_ms
        self.start_path = start_path

    def _origin(self, batch: int) -> int:
        """The stream's start: logged at its first batch, read back after a recovery."""
        path = Path(self.start_path)
        try:
            return int(json.loads(path.read_text())["origin_ms"])
        except FileNotFoundError:
            origin = batch - self.interval_ms
            write_json_atomic(path, {"origin_ms": origin})
            return origin
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{path} is unreadable ({exc}); reset the checkpoint") from None

    def due(self, batch: int, origin: int) -> int:
        """How many records are due by batch time ``batch`` for a stream that began at ``origin``."""
        n = self.rate * max(0, batch - origin) // 1000
        return n if self.count is None else min(n, self.count)

    def __call__(self, time: datetime, tick: RDD[Any]) -> RDD[str]:
        batch = batch_ms(time)
        origin = self._origin(batch)
        start, stop = self.due(batch - self.interval_ms, origin), self.due(batch, origin)
        name, seed, keys = self.name, self.seed, self.keys
        return tick.context.range(start, stop).map(lambda i: f"{name}-{generator_key(i, seed, keys)}")


class GeneratorSource(Source):
    """Synthetic text lines at a steady rate, deterministic for a seed."""

    scheme = "generator"

    def _int(self, key: str, default: int | None, minimum: int | None) -> int | None:
        text = self.address.params.get(key)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or (minimum is not None and value < minimum):
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

    def check(self) -> None:
        unknown = sorted(set(self.address.params) - set(_PARAMS))
        if unknown:
            raise ConfigError(
                "--source", self.address.raw, f"unknown option {unknown[0]!r}; accepted: {', '.join(_PARAMS)}"
            )
        for prop in ("rate", "keys", "seed", "count"):
            getattr(self, prop)

    def dstream(self, ssc: StreamingContext, ctx: SourceContext) -> DStream[str]:
        state = ctx.state_dir / self.name
        plan = _GeneratorPlan(
            self.stream_name,
            self.rate,
            self.keys,
            self.seed,
            self.count,
            ctx.batch_interval.ms,
            str(state / "origin.json"),
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
        inner = F.pmod(F.col("value") + F.lit(self.seed * _SEED_STRIDE), F.lit(_MOD_IN))
        h = F.pmod(inner * F.lit(_MULTIPLIER), F.lit(_MOD_OUT))
        key = F.pmod(F.floor(h / 256), F.lit(self.keys))
        return stream.select(F.concat(F.lit(self.stream_name + "-"), key.cast("string")).alias("value"))
