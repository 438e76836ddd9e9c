"""sparkkit's Kafka reader plans offsets without Spark: admission control and partition splits."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

from sparkkit.errors import ConfigError
from sparkkit.kafka_client import ClientConfig, client_options
from sparkkit.sources.kafka import KafkaRange, KafkaStreamReader


class FixedOffsets(KafkaStreamReader):
    """The reader with the broker's offsets given, not fetched."""

    def __init__(self, begin: dict[str, int], end: dict[str, int], **options: str) -> None:
        super().__init__({"subscribe": "t", "bootstrap": "127.0.0.1:1", **options})
        self.begin, self.end = begin, end

    def _offsets(self) -> tuple[dict[str, int], dict[str, int]]:
        return self.begin, self.end


def test_options_are_case_insensitive_and_kafka_options_pass_through() -> None:
    reader = FixedOffsets(
        {}, {}, maxoffsetspertrigger="7", MINPARTITIONS="3", **{"kafka.security.protocol": "SSL"}
    )
    assert (reader.max_offsets, reader.min_partitions) == (7, 3)
    assert reader.client.kafka_python()["security_protocol"] == "SSL"
    assert reader.client.confluent()["security.protocol"] == "SSL"  # librdkafka's names as they are
    assert client_options({"kafka.sasl.mechanism": "PLAIN", "subscribe": "t"}) == {"sasl_mechanism": "PLAIN"}


def test_kafka_python_options_get_kafka_pythons_types() -> None:
    options = {"kafka.check.crcs": "false", "kafka.max.poll.records": "2000", "kafka.client.id": "me"}
    assert client_options(options) == {"check_crcs": False, "max_poll_records": 2000, "client_id": "me"}


def test_an_unknown_client_is_refused() -> None:
    with pytest.raises(ConfigError, match="auto, confluent or kafka-python"):
        ClientConfig.from_params("b:9092", {"client": "java"})


@pytest.mark.parametrize(
    ("starting", "expected"),
    [("earliest", {"t:0": 2, "t:1": 0}), ("latest", {"t:0": 10, "t:1": 4}),
     ('{"t": {"0": 5, "1": -2}}', {"t:0": 5, "t:1": 0})],
)  # fmt: skip
def test_starting_offsets(starting: str, expected: dict[str, int]) -> None:
    reader = FixedOffsets({"t:0": 2, "t:1": 0}, {"t:0": 10, "t:1": 4}, startingOffsets=starting)
    assert reader.initialOffset() == expected


def test_max_offsets_are_shared_by_lag_and_new_partitions_start_at_their_beginning() -> None:
    reader = FixedOffsets({"t:0": 0, "t:1": 0, "t:2": 3}, {"t:0": 100, "t:1": 10, "t:2": 5})
    start: dict[str, Any] = {"t:0": 0, "t:1": 0}  # t:2 appeared after the query started
    latest = reader.latestOffset(start, ReadMaxRows(11))
    assert sum(latest[k] - start.get(k, 3) for k in latest) == 11
    assert latest["t:0"] > latest["t:1"]  # the most lagging partition gets most of the budget
    assert reader.latestOffset(start, ReadAllAvailable()) == {"t:0": 100, "t:1": 10, "t:2": 5}


def test_ranges_are_split_to_reach_min_partitions() -> None:
    reader = FixedOffsets({}, {}, minPartitions="4")
    ranges = reader.partitions({"t:0": 0, "t:1": 5}, {"t:0": 100, "t:1": 5})
    assert all(isinstance(r, KafkaRange) for r in ranges)
    covered = sorted((r.start, r.end) for r in ranges if isinstance(r, KafkaRange))
    assert len(covered) == 4 and covered[0][0] == 0 and covered[-1][1] == 100
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))
