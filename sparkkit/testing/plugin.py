"""The sparkkit pytest plugin (entry point ``pytest11``): Spark fixtures and the stream harness.

One SparkSession is shared by the whole test session (starting one costs seconds and a process
may only have one SparkContext); each test gets a fresh checkpoint directory.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sparkkit.broker import EmbeddedBroker
from sparkkit.cluster import LocalCluster
from sparkkit.session import build_spark_session, build_streaming_context
from sparkkit.testing.harness import StreamHarness
from sparkkit.testing.servers import LineServer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.streaming import StreamingContext

TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """A local[2] SparkSession for the whole test session: small shuffles, no UI."""
    session = build_spark_session("sparkkit-tests", "local[2]", TEST_CONF)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def streaming_context(spark: SparkSession) -> Iterator[StreamingContext]:
    """A StreamingContext (1 s batches) on the shared SparkContext, stopped after the test."""
    ssc = build_streaming_context(spark, 1.0)
    yield ssc
    ssc.stop(stopSparkContext=False, stopGraceFully=False)


@pytest.fixture
def checkpoint_dir(tmp_path: Path) -> Path:
    """A fresh, empty checkpoint root for this test."""
    path = tmp_path / "checkpoint"
    path.mkdir()
    return path


@pytest.fixture
def stream_harness(spark: SparkSession, tmp_path: Path) -> StreamHarness:
    """Feeds scripted batches to a job in either API; see :class:`StreamHarness`."""
    return StreamHarness(spark, tmp_path / "harness")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a Kafka broker: ``KAFKA_BOOTSTRAP`` when set, else an embedded one."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    broker = EmbeddedBroker(tmp_path_factory.mktemp("kafka"))
    status = broker.up(free_port())
    assert status.bootstrap is not None
    try:
        yield status.bootstrap
    finally:
        broker.down()


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A Spark standalone master and two 1-core workers on 127.0.0.1 for the test session.

    Its ``master_url`` is what ``sparkkit submit --master`` takes. Started without Docker from
    the installed pyspark, as ``sparkkit cluster up`` does (``up()`` again restarts a lost
    worker); stopped at the end of the session.
    """
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.up(workers=2, cores=1, memory="1g", port=free_port(), ui_port=free_port())
        yield cluster
    finally:
        cluster.down()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def line_server() -> Iterator[LineServer]:
    """A TCP server on 127.0.0.1 serving the lines a test sends to every client."""
    with LineServer() as server:
        yield server
