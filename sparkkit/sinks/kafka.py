"""``kafka://HOST:PORT/TOPIC``: each output row as a Kafka record, ``key`` and ``value`` as in Spark's sink.

The value is the row as a JSON object; the key is the row's ``?key=COLUMN`` (by default the
job's ``word`` or ``key`` column, when it has one). With Spark's Kafka connector on the
classpath, the batch is written by Spark's own ``kafka`` sink; otherwise each partition is sent
by a producer on the executors, of the client ``client=auto|confluent|kafka-python`` chooses.
Either way delivery is **at least once**: a batch re-run after a crash is sent again, so
consumers must tolerate duplicates (keyed by ``batch_time`` and the key). Options with the
``kafka.`` prefix go to the producer, named as Spark's connector names them
(:mod:`sparkkit.kafka_client` translates them). ``brokerTimeout`` (default 2m) is how long a
producer waits for a broker that does not answer before the batch fails naming the broker.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from sparkkit.errors import ConfigError
from sparkkit.kafka_client import (
    BROKER_TIMEOUT_OPTION,
    ClientConfig,
    Sender,
    checked_client,
    native_connector,
    topic_partitions,
)
from sparkkit.net import any_answers
from sparkkit.sinks.base import JSON_TIMESTAMP_FORMAT, BatchInfo, Delivery, Sink

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

#: Columns used as the record key when ``?key=`` is not given, in order of preference.
DEFAULT_KEYS = ("key", "word")


class _SendBatches:
    """``mapInArrow`` target: one producer per partition, flushed before the task ends; yields
    how many records it delivered, so the batch is read once and counted as it is sent."""

    def __init__(self, client: ClientConfig, topic: str) -> None:
        self.client, self.topic = client, topic

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        sender, sent = Sender(self.client), 0
        try:
            for batch in batches:
                keys, values = batch.column("key").to_pylist(), batch.column("value").to_pylist()
                for key, value in zip(keys, values, strict=True):
                    sender.send(self.topic, value, key)
                sent += batch.num_rows
            sender.flush()
        finally:
            sender.close()
        yield pa.RecordBatch.from_pydict({"records": [sent]}, schema=pa.schema([("records", pa.int64())]))


class KafkaSink(Sink):
    """Writes each batch's rows to one Kafka topic (at least once)."""

    scheme = "kafka"
    delivery = Delivery.AT_LEAST_ONCE
    reports_progress = True
    counts_rows = True

    @property
    def bootstrap(self) -> str:
        return self.address.netloc

    def check(self) -> None:
        for name in self.address.params:
            known = name in ("key", "client") or name.lower() == BROKER_TIMEOUT_OPTION.lower()
            if not known and not name.lower().startswith("kafka."):
                raise ConfigError(
                    "--sink", self.address.raw,
                    f"unknown option {name!r}; accepted: key, client, {BROKER_TIMEOUT_OPTION}, kafka.*",
                )  # fmt: skip
        client = checked_client(self.bootstrap, self.address, "--sink")
        if not any_answers(self.address.hosts):
            raise ConfigError("--sink", self.address.raw, f"no Kafka broker answers at {self.bootstrap}")
        topic_partitions(client, [self.address.path])  # with the client's own settings

    def check_columns(self, columns: Sequence[str]) -> None:
        key = self.address.params.get("key")
        if key is not None and key not in columns:
            accepted = ", ".join(columns)
            raise ConfigError("--sink", self.address.raw, f"key must be an output column: {accepted}")

    def key_column(self, df: DataFrame) -> str | None:
        key = self.address.params.get("key")
        return key or next((name for name in DEFAULT_KEYS if name in df.columns), None)

    def records(self, df: DataFrame) -> DataFrame:
        """The batch as Spark's Kafka sink wants it: columns ``key`` and ``value``, as bytes."""
        from pyspark.sql import functions as F

        key = self.key_column(df)
        key_col = F.col(key).cast("string") if key else F.lit(None).cast("string")
        value = F.to_json(F.struct(*df.columns), {"timestampFormat": JSON_TIMESTAMP_FORMAT})
        return df.select(key_col.cast("binary").alias("key"), value.cast("binary").alias("value"))

    def write(self, df: DataFrame, batch: BatchInfo) -> int:
        records = self.records(df)
        client = ClientConfig.from_params(self.bootstrap, self.address.params)
        if native_connector(df.sparkSession):
            # counted first: Spark's sink writes through a command, and no connector jar here could
            # show that an Observation on its input completes
            records = records.persist()
            try:
                count = records.count()
                writer = records.write.format("kafka").option("kafka.bootstrap.servers", self.bootstrap)
                writer.option("topic", self.address.path).options(**client.java()).save()
            finally:
                records.unpersist()
            return count
        counts = records.mapInArrow(_SendBatches(client, self.address.path), "records BIGINT").collect()
        return sum(row["records"] for row in counts)
