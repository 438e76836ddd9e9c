"""``sparkkit submit JOB --master URL [job options]``: one command for ``spark-submit``.

The job's options are validated here first (exit 2 before any JVM starts); then spark-submit
runs the job's driver script with everything the executors need: sparkkit itself zipped for
``--py-files``, sparkkit's ``spark-defaults.conf``, and this interpreter (the one with sparkkit
installed) as ``spark.pyspark.python`` for driver and executors. ``--dry-run`` prints the
exact command instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import sparkkit
from sparkkit.addresses import concealed_argument
from sparkkit.cache import default_cache_dir
from sparkkit.cluster import spark_home
from sparkkit.config import find_conf_dir
from sparkkit.errors import ConfigError
from sparkkit.redaction import redact_text

#: The driver script spark-submit runs: ``driver.py JOB [job options]``.
DRIVER = Path(__file__).resolve().parent / "_submit" / "driver.py"
#: How many package zips the cache keeps (the newest used); older builds' zips are removed.
KEEP_ZIPS = 3


def package_files() -> list[Path]:
    """The sparkkit package's files, as shipped to executors (no bytecode caches)."""
    root = Path(sparkkit.__file__).resolve().parent
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def package_zip(cache_dir: Path | None = None) -> Path:
    """sparkkit as a zip for ``--py-files``, named by a hash of its content (rebuilt when it changes)."""
    root = Path(sparkkit.__file__).resolve().parent
    files = package_files()
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    target = (
        cache_dir or default_cache_dir()
    ) / f"sparkkit-{sparkkit.__version__}-{digest.hexdigest()[:12]}.zip"
    if target.is_file():
        os.utime(target)  # the newest used: pruning keeps it
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, Path("sparkkit") / path.relative_to(root))
        os.replace(partial, target)
    prune_zips(target.parent)
    return target


def prune_zips(cache_dir: Path, keep: int = KEEP_ZIPS) -> list[Path]:
    """Remove all but the ``keep`` most recently used package zips in ``cache_dir``; the removed ones."""
    zips = []
    for path in cache_dir.glob("sparkkit-*.zip"):
        with contextlib.suppress(FileNotFoundError):  # another process's pruning got there first
            zips.append((path.stat().st_mtime, path))
    old = [path for _, path in sorted(zips, reverse=True)[keep:]]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def python_for_spark() -> str:
    """The interpreter for the driver and executors: ``PYSPARK_PYTHON``, else this one."""
    return os.environ.get("PYSPARK_PYTHON") or sys.executable


def submit_command(
    job: str, master: str, job_args: Sequence[str], conf: Sequence[str] = (), cache_dir: Path | None = None
) -> list[str]:
    """The spark-submit command line for ``job`` on ``master``."""
    python = python_for_spark()
    command = [str(spark_home() / "bin" / "spark-submit"), "--master", master, "--name", f"sparkkit-{job}"]
    defaults = find_conf_dir() / "spark-defaults.conf"
    if defaults.is_file():
        command += ["--properties-file", str(defaults)]
    command += ["--conf", f"spark.pyspark.python={python}", "--conf", f"spark.pyspark.driver.python={python}"]
    for item in conf:
        if "=" not in item:
            raise ConfigError("--conf", item, "KEY=VALUE, e.g. spark.executor.memory=1g")
        command += ["--conf", item]
    command += ["--py-files", str(package_zip(cache_dir)), str(DRIVER), job, *job_args]
    return command


def submit_env() -> dict[str, str]:
    """The environment of spark-submit: this interpreter as the driver's and executors' Python."""
    env = dict(os.environ)
    python = python_for_spark()
    env.update(PYSPARK_PYTHON=python, PYSPARK_DRIVER_PYTHON=python, SPARK_HOME=str(spark_home()))
    conf_dir = find_conf_dir()
    if (conf_dir / "log4j2.properties").is_file():
        env.setdefault("SPARK_CONF_DIR", str(conf_dir))
    return env


def shell_line(command: Sequence[str]) -> str:
    """The command as a shell line to show: quoted, secrets masked."""
    return redact_text(" ".join(shlex.quote(part) for part in command))


def submit(
    job: str, master: str, job_args: Sequence[str], conf: Sequence[str] = (), dry_run: bool = False
) -> int:
    """Validate the job's options, then become spark-submit (or, with ``dry_run``, print its command).

    The process is replaced (``exec``), so signals such as Ctrl-C or SIGTERM reach spark-submit
    directly and its exit code is the command's.
    """
    from sparkkit.cli import parse_job_options
    from sparkkit.runner import prepare

    prepare(parse_job_options(job, job_args, prog=f"sparkkit submit {job}"))
    # the secrets travel in the environment (execve below), the command line holds references
    job_args = [concealed_argument(arg) for arg in job_args]
    command = submit_command(job, master, job_args, conf)
    if dry_run:
        print(shell_line(command))
        return 0
    print(f"[sparkkit] {shell_line(command)}", file=sys.stderr, flush=True)
    os.execve(command[0], command, submit_env())
