"""``kafka://HOST:PORT[,HOST:PORT]/TOPIC[,TOPIC]?...`` for Structured Streaming.

Spark's native ``kafka`` format is used when its connector jar is on the classpath. Otherwise
sparkkit's own source on the Python Data Source API reads Kafka with confluent-kafka or
kafka-python: offsets are ``{"topic:partition": offset}`` dicts kept in the query checkpoint
(each partition's end is its high watermark: see :func:`~sparkkit.kafka_client.fetch_offsets`);
``startingOffsets`` is earliest, latest or Spark's JSON form; ``maxOffsetsPerTrigger`` is honoured through
``latestOffset(start, limit)`` (shared among partitions in proportion to their lag);
``minPartitions`` splits large ranges so both cores read; ``read()`` yields Arrow record
batches with the columns of Spark's Kafka source; partitions added later are read from their
start; offsets lost to retention fail the query unless ``failOnDataLoss=false``.
Options with the ``kafka.`` prefix are the Kafka client's, named as Spark's connector names them
(``kafka.security.protocol``, ``kafka.sasl.jaas.config`` ...; :mod:`sparkkit.kafka_client`
translates them for the Python clients); every Kafka call of the source, offsets and lag
included, goes through the one client ``client=`` chose. ``brokerTimeout`` (default 2m) is how
long sparkkit's reader waits for a broker that does not answer (offsets asked again with
backoff, a read in progress resumed, each wait reported as ``waiting for broker HOST:PORT``)
before the query fails naming the broker; Spark's own connector has its own timeouts.

Values are text lines, or JSON objects with ``format=json&schema=DDL``. A value that is not
UTF-8 (or not a JSON object for ``format=json``) becomes a dead letter with its topic,
partition and offset (:mod:`sparkkit.deadletters`); null values (tombstones) carry no record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition

from sparkkit.deadletters import (
    COLUMN,
    DeadLetter,
    dead_letter_column,
    parse_json_column,
    read_line,
    utf8_reason,
)
from sparkkit.errors import ConfigError
from sparkkit.kafka_client import (
    ClientConfig,
    checked_client,
    fetch_offsets,
    native_connector,
    read_batches,
    topic_partitions,
    tp_key,
)
from sparkkit.net import any_answers
from sparkkit.origin import COLUMN as ORIGIN
from sparkkit.origin import origin_column
from sparkkit.sources.base import Source, SourceContext
from sparkkit.sources.files import batch_ms, python_records
from sparkkit.sources.ticker import PlanLog, planned_stream

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.streaming import DStream, StreamingContext

FORMAT_NAME = "sparkkit_kafka"
KAFKA_SCHEMA = (
    "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, "
    "timestamp TIMESTAMP, timestampType INT"
)


def _split_key(key: str) -> tuple[str, int]:
    topic, _, partition = key.rpartition(":")
    return topic, int(partition)


def starting_positions(starting: str, begin: dict[str, int], end: dict[str, int]) -> dict[str, int]:
    """``startingOffsets``: earliest, latest, or Spark's JSON (-2 earliest, -1 latest per partition)."""
    if starting == "earliest":
        return dict(begin)
    if starting == "latest":
        return dict(end)
    chosen = dict(end)
    for topic, parts in json.loads(starting).items():
        for partition, offset in parts.items():
            key = tp_key(topic, int(partition))
            chosen[key] = (
                begin.get(key, 0) if offset == -2 else end.get(key, 0) if offset == -1 else int(offset)
            )
    return chosen


class KafkaRange(InputPartition):
    """Offsets ``start`` (inclusive) to ``end`` (exclusive) of one topic partition."""

    def __init__(self, topic: str, partition: int, start: int, end: int) -> None:
        self.topic, self.partition, self.start, self.end = topic, partition, start, end


class KafkaStreamReader(DataSourceStreamReader):
    def __init__(self, options: dict[str, str]) -> None:
        options = {k.lower(): v for k, v in options.items()}  # Spark hands data sources lower-cased keys
        self.options = options
        self.topics = [t for t in options["subscribe"].split(",") if t]
        self.client = ClientConfig.from_params(options["bootstrap"], options)
        self.max_offsets = (
            int(options["maxoffsetspertrigger"]) if options.get("maxoffsetspertrigger") else None
        )
        self.min_partitions = int(options.get("minpartitions", "0") or 0)
        self.fail_on_data_loss = options.get("failondataloss", "true").lower() != "false"
        self._available: dict[str, int] | None = None

    def _offsets(self) -> tuple[dict[str, int], dict[str, int]]:
        return fetch_offsets(self.client, self.topics)

    def initialOffset(self) -> dict[str, int]:
        begin, end = self._offsets()
        return starting_positions(self.options.get("startingoffsets", "latest"), begin, end)

    def getDefaultReadLimit(self) -> Any:
        from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

        return ReadMaxRows(self.max_offsets) if self.max_offsets else ReadAllAvailable()

    def latestOffset(self, start: dict[str, int], limit: Any) -> dict[str, int]:
        from pyspark.sql.streaming.datasource import ReadMaxRows

        begin, end = (dict(offsets) for offsets in self._offsets())
        for key, position in start.items():  # a partition missing from an answer stays where it is
            end.setdefault(key, position)
            begin.setdefault(key, position)
        start = {key: start.get(key, begin[key]) for key in end}  # new partitions start at their beginning
        # never behind where the query is: an end read low (a probe that timed out, a broker just
        # restarted) would otherwise make the next batch read again what this one read
        end = {key: max(end[key], start[key]) for key in end}
        self._available = end
        lag = {key: max(0, end[key] - start[key]) for key in end}
        total = sum(lag.values())
        if not isinstance(limit, ReadMaxRows) or total <= limit.max_rows:
            return end
        budget, latest = limit.max_rows, dict(start)
        shares = {key: lag[key] * budget // total for key in lag}
        spare = budget - sum(shares.values())
        for key in sorted(lag, key=lambda k: -lag[k]):
            extra = 1 if spare > 0 and shares[key] < lag[key] else 0
            spare -= extra
            latest[key] = start[key] + shares[key] + extra
        return latest

    def reportLatestOffset(self) -> dict[str, int] | None:
        """The end of every partition as last fetched: Spark reports it as the source's
        ``latestOffset`` in each batch's progress, where it shows the consumer lag."""
        return self._available

    def partitions(self, start: dict[str, int], end: dict[str, int]) -> Sequence[InputPartition]:
        ranges = []
        for key, stop in end.items():
            topic, partition = _split_key(key)
            first = start.get(key, 0)
            if stop > first:
                ranges.append(KafkaRange(topic, partition, first, stop))
        while ranges and len(ranges) < self.min_partitions:
            widest = max(ranges, key=lambda r: r.end - r.start)
            if widest.end - widest.start < 2:
                break
            middle = (widest.start + widest.end) // 2
            ranges.remove(widest)
            ranges += [KafkaRange(widest.topic, widest.partition, widest.start, middle),
                       KafkaRange(widest.topic, widest.partition, middle, widest.end)]  # fmt: skip
        return ranges

    def read(self, partition: InputPartition) -> Iterator[Any]:
        import pyarrow as pa

        assert isinstance(partition, KafkaRange)
        schema = pa.schema(
            [("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
             ("partition", pa.int32()), ("offset", pa.int64()),
             ("timestamp", pa.timestamp("us", tz="UTC")), ("timestampType", pa.int32())]
        )  # fmt: skip
        p, lossy = partition, self.fail_on_data_loss
        topic, part = pa.scalar(p.topic, pa.string()), pa.scalar(p.partition, pa.int32())
        for records in read_batches(self.client, p.topic, p.partition, p.start, p.end, lossy):
            n = len(records)
            stamps = (
                pa.array(records.timestamps, pa.int64())
                .cast(pa.timestamp("ms", tz="UTC"))
                .cast(pa.timestamp("us", tz="UTC"))
            )
            yield pa.RecordBatch.from_arrays(
                [pa.array(records.keys, pa.binary()), pa.array(records.values, pa.binary()),
                 pa.repeat(topic, n), pa.repeat(part, n), pa.array(records.offsets, pa.int64()),
                 stamps, pa.array(records.timestamp_types, pa.int32())],
                schema=schema,
            )  # fmt: skip


class KafkaRangePlanner:
    """Plans each DStream batch's offset ranges on the driver and logs them before the batch runs.

    A batch reads, per partition, from where the previous planned batch ended to the latest
    offset, at most ``maxRatePerPartition`` x batch interval records. The log in the checkpoint
    maps batch time -> ranges, so after a crash ``getOrCreate`` re-plans the same batches
    exactly: no range skipped, none read twice. Picklable; the index is rebuilt from the log.
    """

    def __init__(self, client: ClientConfig, topics: list[str], starting: str, max_rate: int | None,
                 interval_ms: int, log_path: str) -> None:  # fmt: skip
        self.client, self.topics, self.starting = client, topics, starting
        self.max_rate, self.interval_ms, self.log_path = max_rate, interval_ms, log_path
        self._plans: dict[int, list[list[Any]]] | None = None
        self._positions: dict[str, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._plans, self._positions = None, {}

    def _load(self) -> dict[int, list[list[Any]]]:
        if self._plans is None:
            self._plans = {}
            for entry in PlanLog(self.log_path).read():
                self._plans[entry["batch"]] = entry["ranges"]
                self._positions.update(entry["positions"])
        return self._plans

    def ranges_for(self, batch: int) -> list[list[Any]]:
        """``[topic, partition, start, end]`` ranges of batch ``batch`` (epoch ms)."""
        plans = self._load()
        if batch in plans:
            return plans[batch]
        if plans and batch < max(plans):
            # planned empty before a crash (empty plans are not logged): recomputing an old
            # window's batch after a restart must not take records that came since
            return []
        begin, end = fetch_offsets(self.client, self.topics)
        first_plan = not self._positions
        if first_plan:
            self._positions = starting_positions(self.starting, begin, end)
        cap = self.max_rate * self.interval_ms // 1000 if self.max_rate else None
        ranges, positions = [], dict(self._positions)
        for key, latest in end.items():
            start = positions.get(key, begin.get(key, 0))  # a new partition starts at its beginning
            stop = min(latest, start + cap) if cap else latest
            positions[key] = max(start, stop)
            if stop > start:
                topic, partition = _split_key(key)
                ranges.append([topic, partition, start, stop])
        if ranges or first_plan:
            PlanLog(self.log_path).append({"batch": batch, "ranges": ranges, "positions": positions})
            plans[batch] = ranges
            self._positions = positions
        return ranges


def kafka_records(raw: DataFrame, fmt: str, schema: str | None, source: str) -> DataFrame:
    """Records of Kafka values: the record columns (``value``, or the schema's fields),
    ``_dead_letter`` and ``_origin``, from ``raw``'s ``value`` (bytes), ``topic``, ``partition``
    and ``offset``. The same SQL in both APIs, so a value is a good record or a dead letter for
    the same reason whichever reads it (the rules: :mod:`sparkkit.deadletters`)."""
    from pyspark.sql import functions as F

    value, reason = F.col("value"), utf8_reason(F.col("value"))
    if fmt == "json":
        if schema is None:
            raise ValueError("format=json needs a schema")
        raw, fields, not_json = parse_json_column(raw, value.cast("string"), schema)
        reason = F.coalesce(reason, not_json)
    else:
        fields = [value.cast("string").alias("value")]
    where = (F.col("topic"), F.col("partition"), F.col("offset"))
    letter = dead_letter_column(value, reason, source, *where)
    return raw.select(*fields, letter.alias(COLUMN), origin_column(source, *where).alias(ORIGIN))


class _KafkaBatches:
    """The per-batch transform: plan the ranges, read them on the executors as records.

    Each value becomes a text line, or a dead letter; with ``format=json`` the values go through
    :func:`kafka_records` (Spark's JSON parser and the schema, as in Structured Streaming) and
    each becomes a ``dict`` of the schema's fields, or a dead letter.
    """

    def __init__(
        self, planner: KafkaRangePlanner, fail_on_data_loss: bool, fmt: str, source: str,
        schema: str | None = None,
    ) -> None:  # fmt: skip
        self.planner = planner
        self.fail_on_data_loss = fail_on_data_loss
        self.fmt = fmt
        self.source = source
        self.schema = schema

    def __call__(self, time: datetime, tick: RDD[Any]) -> RDD[Any]:
        ranges = self.planner.ranges_for(batch_ms(time))
        if not ranges:
            return tick.context.emptyRDD()
        client, lossy, fmt, source = self.planner.client, self.fail_on_data_loss, self.fmt, self.source

        def values(r: list[Any]) -> Iterator[tuple[bytes, str, int, int]]:
            for records in read_batches(client, r[0], r[1], r[2], r[3], lossy):
                for value, offset in zip(records.values, records.offsets, strict=True):
                    if value is not None:
                        yield value, r[0], r[1], offset

        def lines(r: list[Any]) -> Iterator[str | DeadLetter]:
            for records in read_batches(client, r[0], r[1], r[2], r[3], lossy):
                for value, offset in zip(records.values, records.offsets, strict=True):
                    if value is not None:
                        yield read_line(value, source, r[0], r[1], offset)

        ranges_rdd = tick.context.parallelize(ranges, len(ranges))
        if fmt != "json":
            return ranges_rdd.flatMap(lines)
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        raw = spark.createDataFrame(
            ranges_rdd.flatMap(values), "value BINARY, topic STRING, partition INT, offset BIGINT"
        )
        return python_records(kafka_records(raw, fmt, self.schema, source), fmt)


class KafkaDataSource(DataSource):
    """sparkkit's Kafka source on the Python Data Source API (used without Spark's connector jar)."""

    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def schema(self) -> str:
        return KAFKA_SCHEMA

    def streamReader(self, schema: Any) -> DataSourceStreamReader:
        return KafkaStreamReader(dict(self.options))


#: Address options that belong to sparkkit, not to a Kafka reader (lower case).
_OWN_PARAMS = ("format", "schema")
#: ... nor to Spark's own (sparkkit's reader takes them).
_CLIENT_PARAMS = ("client", "brokertimeout")


class KafkaSource(Source):
    """Kafka topics as text lines or JSON objects, natively or through sparkkit's reader."""

    scheme = "kafka"

    @property
    def bootstrap(self) -> str:
        return self.address.netloc

    @property
    def record_format(self) -> str:
        return self.address.params.get("format", "text")

    @property
    def dead_letters(self) -> bool:
        return True

    def check(self) -> None:
        if self.record_format not in ("text", "json"):
            raise ConfigError("--source", self.address.raw, "format must be text or json")
        if self.record_format == "json" and not self.address.params.get("schema"):
            raise ConfigError(
                "--source",
                self.address.raw,
                "format=json needs ?schema=DDL (e.g. schema=user STRING, ts TIMESTAMP)",
            )
        client = checked_client(self.bootstrap, self.address, "--source")
        if not any_answers(self.address.hosts):
            raise ConfigError("--source", self.address.raw, f"no Kafka broker answers at {self.bootstrap}")
        topic_partitions(client, self.address.path.split(","))  # with the client's own settings

    def dstream(self, ssc: StreamingContext, ctx: SourceContext) -> DStream[Any]:
        params = {k.lower(): v for k, v in self.address.params.items()}
        client = ClientConfig.from_params(self.bootstrap, params)
        rate = params.get("maxrateperpartition")
        state = ctx.state_dir / self.name
        planner = KafkaRangePlanner(
            client, self.address.path.split(","), params.get("startingoffsets", "latest"),
            int(rate) if rate else None, ctx.batch_interval.ms, str(state / "plans.jsonl"),
        )  # fmt: skip
        fail_on_data_loss = params.get("failondataloss", "true").lower() != "false"
        batches = _KafkaBatches(
            planner, fail_on_data_loss, self.record_format, self.address.location,
            self.address.params.get("schema"),
        )  # fmt: skip
        return planned_stream(ssc, state, batches)

    def structured(self, spark: SparkSession, ctx: SourceContext) -> DataFrame:
        """Columns ``value`` (text) or the schema's fields (JSON), ``_dead_letter`` and ``_origin``."""
        from pyspark.sql import functions as F

        params = {k: v for k, v in self.address.params.items() if k.lower() not in _OWN_PARAMS}
        if native_connector(spark):
            # Spark's connector takes the Java client's options, with the secrets themselves
            client = ClientConfig.from_params(self.bootstrap, self.address.params)
            params = {
                k: v
                for k, v in params.items()
                if not k.lower().startswith("kafka.") and k.lower() not in _CLIENT_PARAMS
            } | client.java()
            reader = spark.readStream.format("kafka").option("kafka.bootstrap.servers", self.bootstrap)
        else:
            spark.dataSource.register(KafkaDataSource)
            reader = spark.readStream.format(FORMAT_NAME).option("bootstrap", self.bootstrap)
        raw = reader.option("subscribe", self.address.path).options(**params).load()
        raw = raw.where(F.col("value").isNotNull())
        schema = self.address.params.get("schema")
        return kafka_records(raw, self.record_format, schema, self.address.location)
