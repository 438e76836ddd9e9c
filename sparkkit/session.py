"""SparkSession and StreamingContext builders: one place where Spark is configured and started."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sparkkit.class_archive import DriverLaunch, empty_conf_dir, plan_driver_launch
from sparkkit.config import JobConfig, find_conf_dir
from sparkkit.redaction import spark_redaction_conf
from sparkkit.secrets import remember_environment, share_with_workers

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.streaming import StreamingContext


def prepare_environment() -> None:
    """``PYSPARK_PYTHON``/``PYSPARK_DRIVER_PYTHON``: this interpreter (the one with sparkkit
    installed), unless the user already set them."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", os.environ["PYSPARK_PYTHON"])


@contextlib.contextmanager
def driver_launch(conf: dict[str, str], conf_dir: Path | None = None) -> Iterator[DriverLaunch]:
    """The environment and ``conf`` the launcher starts this process's driver JVM with.

    sparkkit's configuration goes to the launcher as files: ``spark-defaults.conf`` as its
    properties file, ``log4j2.properties`` as log4j's configuration file, while its configuration
    directory (on the driver's class path) is an empty one, so the driver can start from a class
    archive (:mod:`sparkkit.class_archive`). A user's own ``SPARK_CONF_DIR`` or
    ``PYSPARK_SUBMIT_ARGS`` is left as it is, without an archive. The variables are set only while
    the JVM starts: processes this one starts do not inherit them.
    """
    conf_dir = conf_dir or find_conf_dir()
    defaults = conf_dir / "spark-defaults.conf"
    launch_env = launcher_environment(conf_dir)
    if launch_env is None:
        with _environment({"SPARK_CONF_DIR": str(conf_dir)} if defaults.is_file() else {}):
            yield DriverLaunch([], USERS_LAUNCHER)
        return
    launch = plan_driver_launch(_spark_home(), {**os.environ, **launch_env})
    options = launch.java_options
    if (conf_dir / "log4j2.properties").is_file():
        options = [f"-Dlog4j2.configurationFile={conf_dir / 'log4j2.properties'}", *options]
    if options:
        key = "spark.driver.extraJavaOptions"
        theirs = conf.get(key) or (read_spark_defaults(defaults).get(key) if defaults.is_file() else None)
        conf[key] = " ".join([*([theirs] if theirs else []), *options])
    with _environment(launch_env):
        yield launch


USERS_LAUNCHER = "no class archive: SPARK_CONF_DIR or PYSPARK_SUBMIT_ARGS is set"


def launcher_environment(conf_dir: Path | None = None) -> dict[str, str] | None:
    """``SPARK_CONF_DIR`` (empty) and ``PYSPARK_SUBMIT_ARGS`` (the properties file) for the
    launcher; None when the user set either, which then wins."""
    if "SPARK_CONF_DIR" in os.environ or "PYSPARK_SUBMIT_ARGS" in os.environ:
        return None
    defaults = (conf_dir or find_conf_dir()) / "spark-defaults.conf"
    submit_args = ["--properties-file", str(defaults)] if defaults.is_file() else []
    return {
        "SPARK_CONF_DIR": str(empty_conf_dir()),
        "PYSPARK_SUBMIT_ARGS": shlex.join([*submit_args, "pyspark-shell"]),
    }


def planned_driver_launch() -> DriverLaunch:
    """What the next driver this process starts would do with the class archive."""
    launch_env = launcher_environment()
    if launch_env is None:
        return DriverLaunch([], USERS_LAUNCHER)
    return plan_driver_launch(_spark_home(), {**os.environ, **launch_env}, lock=False)


def _spark_home() -> Path:
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home())


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the block; those not already set are removed after it."""
    added = [name for name in values if name not in os.environ]
    for name, value in values.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


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
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    conf = {**spark_redaction_conf(), **(conf or {})}
    submitted = launched_by_spark_submit()
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif not submitted:
        builder = builder.master("local[*]")
    submitted_without_conf = submitted and "SPARK_CONF_DIR" not in os.environ
    if submitted_without_conf:
        builder = _with_sparkkit_defaults(builder)
    starts_jvm = not submitted and SparkContext._gateway is None
    with (
        driver_launch(conf)
        if starts_jvm
        else contextlib.nullcontext(DriverLaunch([], "the JVM was up")) as launch
    ):
        for key, value in conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
    if starts_jvm:
        launch.started(spark.sparkContext._gateway.proc)  # type: ignore[union-attr]
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
