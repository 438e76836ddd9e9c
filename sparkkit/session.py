"""SparkSession and StreamingContext builders: one place where Spark is configured and started."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sparkkit.config import JobConfig, find_conf_dir
from sparkkit.redaction import spark_redaction_conf
from sparkkit.secrets import remember_environment, share_with_workers

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.streaming import StreamingContext


def prepare_environment(conf_dir: Path | None = None) -> None:
    """Set what the JVM launch and the Python workers need, unless the user already set it.

    ``PYSPARK_PYTHON``/``PYSPARK_DRIVER_PYTHON`` become this interpreter (the one with sparkkit
    installed) and ``SPARK_CONF_DIR`` the sparkkit conf directory, whose ``spark-defaults.conf``
    and ``log4j2.properties`` the launcher reads.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", os.environ["PYSPARK_PYTHON"])
    conf_dir = conf_dir or find_conf_dir()
    if (conf_dir / "spark-defaults.conf").is_file() and not launched_by_spark_submit():
        os.environ.setdefault("SPARK_CONF_DIR", str(conf_dir))


def launched_by_spark_submit() -> bool:
    """True inside a driver that ``spark-submit`` started (the JVM is already up)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_spark_session(
    app_name: str,
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Get or create the process's SparkSession.

    ``master`` defaults to ``local[*]``, except under ``spark-submit``, whose ``--master`` wins.
    Spark's redaction covers sparkkit's secret names (unless ``conf`` sets it), and Python
    workers get the concealed secrets (:mod:`sparkkit.secrets`).
    """
    prepare_environment()
    remember_environment()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif not launched_by_spark_submit():
        builder = builder.master("local[*]")
    submitted_without_conf = launched_by_spark_submit() and "SPARK_CONF_DIR" not in os.environ
    if submitted_without_conf:
        builder = _with_sparkkit_defaults(builder)
    for key, value in {**spark_redaction_conf(), **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    share_with_workers(spark.sparkContext)
    if submitted_without_conf:
        spark.sparkContext.setLogLevel("WARN")
    return spark


def read_spark_defaults(path: Path) -> dict[str, str]:
    """``key value`` lines of a spark-defaults.conf file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            values[key] = value.strip()
    return values


def _with_sparkkit_defaults(builder: SparkSession.Builder) -> SparkSession.Builder:
    """Under spark-submit without SPARK_CONF_DIR: sparkkit's defaults, for keys the user did not set."""
    from pyspark import SparkConf

    path = find_conf_dir() / "spark-defaults.conf"
    if not path.is_file():
        return builder
    submitted = SparkConf()
    for key, value in read_spark_defaults(path).items():
        if not submitted.contains(key):
            builder = builder.config(key, value)
    return builder


def session_for(config: JobConfig) -> SparkSession:
    return build_spark_session(config.app_name or f"sparkkit-{config.job}", config.master)


def build_streaming_context(spark: SparkSession, batch_interval_seconds: float) -> StreamingContext:
    """A StreamingContext on the session's SparkContext, without the deprecation warning noise."""
    from pyspark.streaming import StreamingContext

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return StreamingContext(spark.sparkContext, batch_interval_seconds)  # type: ignore[arg-type]
