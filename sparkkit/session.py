"""SparkSession and StreamingContext builders: one place where Spark is configured and started."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sparkkit.class_archive import DriverLaunch, empty_conf_dir, plan_driver_launch
from sparkkit.config import JobConfig, find_conf_dir
from sparkkit.errors import JobFailedError
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


#: The launch when the user's own launcher configuration wins.
OWN_LAUNCHER_STATE = "no class archive: SPARK_CONF_DIR or PYSPARK_SUBMIT_ARGS is set"


def plan_launch(conf_dir: Path | None = None, dry_run: bool = False) -> tuple[DriverLaunch, dict[str, str]]:
    """How this process's driver JVM would start: the class archive's plan, and the environment
    the launcher gets (:func:`driver_launch`)."""
    conf_dir = conf_dir or find_conf_dir()
    defaults = conf_dir / "spark-defaults.conf"
    if "SPARK_CONF_DIR" in os.environ or "PYSPARK_SUBMIT_ARGS" in os.environ:
        return DriverLaunch([], OWN_LAUNCHER_STATE), _conf_dir_launch(conf_dir)
    try:
        submit_args = ["--properties-file", str(defaults)] if defaults.is_file() else []
        launch_env = {
            "SPARK_CONF_DIR": str(empty_conf_dir()),
            "PYSPARK_SUBMIT_ARGS": shlex.join([*submit_args, "pyspark-shell"]),
        }
        launch = plan_driver_launch(_launcher_spark_home(), {**os.environ, **launch_env}, dry_run=dry_run)
    except (OSError, RuntimeError) as exc:  # no usable cache directory: as before the archive
        return DriverLaunch([], f"no class archive: {exc}"), _conf_dir_launch(conf_dir)
    options = launch.java_options
    if (conf_dir / "log4j2.properties").is_file():
        options = [f"-Dlog4j2.configurationFile={conf_dir / 'log4j2.properties'}", *options]
    if options:  # before the user's spark.driver.extraJavaOptions, which win
        theirs = os.environ.get("SPARK_SUBMIT_OPTS")
        launch_env["SPARK_SUBMIT_OPTS"] = " ".join([*([theirs] if theirs else []), shlex.join(options)])
    return launch, launch_env


@contextlib.contextmanager
def driver_launch(conf_dir: Path | None = None) -> Iterator[DriverLaunch]:
    """The environment the launcher starts this process's driver JVM in, for the block.

    sparkkit's configuration goes to the launcher as files: ``spark-defaults.conf`` as its
    properties file, ``log4j2.properties`` as log4j's configuration file, while its configuration
    directory (on the driver's class path) is an empty one, so the driver can start from a class
    archive (:mod:`sparkkit.class_archive`); the JVM options go in ``SPARK_SUBMIT_OPTS``. A user's
    own ``SPARK_CONF_DIR`` or ``PYSPARK_SUBMIT_ARGS`` is left as it is, without an archive, and
    so is a cache directory that cannot be written. The variables are set only while the JVM
    starts: processes this one starts later do not inherit them.
    """
    launch, launch_env = plan_launch(conf_dir)
    try:
        with _environment(launch_env):
            yield launch
    except BaseException:
        launch.abandon()
        raise


def planned_driver_launch() -> DriverLaunch:
    """What the next driver this process starts would do with the class archive."""
    return plan_launch(dry_run=True)[0]


def _conf_dir_launch(conf_dir: Path) -> dict[str, str]:
    """sparkkit's conf directory as the launcher's, unless the user set one: no archive."""
    if "SPARK_CONF_DIR" in os.environ or not (conf_dir / "spark-defaults.conf").is_file():
        return {}
    return {"SPARK_CONF_DIR": str(conf_dir)}


def _launcher_spark_home() -> Path:
    """The Spark home PySpark's launcher runs (``SPARK_HOME``, else the pyspark package)."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home())


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the block; the previous values restored after it."""
    before: dict[str, str | None] = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, previous in before.items():
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous


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
    for key, value in conf.items():
        builder = builder.config(key, value)
    if submitted or SparkContext._gateway is not None:  # the JVM is up: nothing to launch
        spark = builder.getOrCreate()
    else:
        threading.Thread(target=_import_pandas, name="sparkkit-import-pandas", daemon=True).start()
        _quiet_broken_connections()
        with driver_launch() as launch:
            spark = builder.getOrCreate()
        gateway = spark.sparkContext._gateway
        assert gateway is not None

        def exit_jvm() -> None:
            gateway.jvm.java.lang.System.exit(0)

        launch.started(getattr(gateway, "proc", None), exit_jvm)
    share_with_workers(spark.sparkContext)
    if submitted_without_conf:
        spark.sparkContext.setLogLevel("WARN")
    return spark


class _BrokenConnectionFilter(logging.Filter):
    """Drops py4j's log records of a call that failed because the connection to the driver JVM
    broke: the JVM exited, which the run reports in one line (:func:`driver_exit_error`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.name.startswith("py4j") or f"{os.sep}py4j{os.sep}" in record.pathname):
            return True  # py4j also logs through the root logger (``logging.exception``)
        return not broke_connection(record.exc_info[1] if record.exc_info else None)


def _quiet_broken_connections() -> None:
    """A Python callback (a listener, ``foreachBatch``) that the JVM called just before it went
    fails calling back; py4j logs that with its traceback, which is noise once the JVM is gone."""
    for name in ("py4j.clientserver", "py4j.java_gateway", ""):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _BrokenConnectionFilter) for f in logger.filters):
            logger.addFilter(_BrokenConnectionFilter())


def _import_pandas() -> None:
    """Import pandas (~0.3 s) while the driver JVM boots and Python only waits for it: PySpark's
    first py4j call with arguments imports it anyway (its numpy converter asks
    ``pyspark.testing.utils``), and then the JVM waits for Python. Only pandas, which nothing
    imports while the JVM starts: two threads importing the same modules can deadlock."""
    with contextlib.suppress(Exception):  # not installed: PySpark's import fails the same way later
        import pandas  # noqa: F401


#: How long a failed call into the driver waits for its JVM to finish exiting before it is taken
#: for a failure of its own (a JVM killed with the process group runs its shutdown hooks first).
DRIVER_EXIT_WAIT_SECONDS = 10.0


def driver_exit_status(spark: SparkSession, wait: float = 0.0) -> int | None:
    """The exit status of the driver JVM this process launched (143 after SIGTERM, which a signal
    to the whole process group sends it; -9 when SIGKILLed), or None while it runs, ``wait``
    seconds at most, or when another process (``spark-submit``) launched it."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    if proc is None:
        return None
    if wait > 0:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
    return proc.poll()


def driver_exit_error(status: int) -> JobFailedError:
    """The error of a run whose driver JVM exited (``status``) before its queries were stopped."""
    how = f"exit code {status}"
    with contextlib.suppress(ValueError):  # not a signal's number
        if status < 0:
            how = f"killed by {signal.Signals(-status).name}"
        elif status > 128:
            how = f"exit code {status} after {signal.Signals(status - 128).name}"
    return JobFailedError(
        f"the Spark driver JVM exited ({how}) before the queries were stopped: a batch it was "
        "running, if any, is not committed; a restart from the checkpoint runs it again"
    )


def broke_connection(exc: BaseException | None) -> bool:
    """Did a py4j call fail because its connection to the driver JVM broke (the JVM exited)?
    The cause chain is asked too: PySpark and sparkkit wrap the error py4j raised."""
    from py4j.protocol import Py4JNetworkError

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, Py4JNetworkError | ConnectionError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@contextlib.contextmanager
def failing_with_driver_exit(spark: SparkSession, exited: Callable[[int], None]) -> Iterator[None]:
    """Run the block; if it raises and the driver JVM exits (waiting up to
    :data:`DRIVER_EXIT_WAIT_SECONDS` for that), call ``exited`` with the JVM's exit status instead
    of raising: a call that failed as the JVM went fails with the exit, not on its own."""
    try:
        yield
    except Exception:
        status = driver_exit_status(spark, DRIVER_EXIT_WAIT_SECONDS)
        if status is None:
            raise
        exited(status)


def stop_session(spark: SparkSession) -> None:
    """Stop a session this process built; nothing to stop when its driver JVM has exited (a call
    failing while it exits is not an error of the session's)."""
    with failing_with_driver_exit(spark, lambda status: None):
        if driver_exit_status(spark) is None:
            spark.stop()


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
