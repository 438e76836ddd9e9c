"""The driver JVM's class archive: Spark's classes loaded and verified once, mapped at every start.

A local Spark driver loads ~18,000 classes from ~280 jars and verifies each one at every start:
most of the seconds before a job's first output. HotSpot's class data sharing (CDS) maps them from
an archive instead. Java 17 writes such an archive of the classes a JVM loaded when that JVM exits
(``-XX:ArchiveClassesAtExit``; Java 19's ``-XX:+AutoCreateSharedArchive`` automates the same):
the first driver that finds no archive for its Java and Spark writes one as it exits ("trains"),
every later driver starts from it.

The archive's class path must match the driver's, and a directory on it must be empty, so the
launcher's configuration directory is an empty one (:func:`empty_conf_dir`) and sparkkit hands
the launcher its configuration as files (``sparkkit.session``). A truncated archive crashes
the JVM, so an archive is only ever used after its writer finished: written under a temporary
name, renamed once the JVM has exited, and used only when its size is the one recorded beside it
(``-XX:+VerifySharedSpaces`` checks its content).

``SPARKKIT_CLASS_ARCHIVE``: ``auto`` (use, or write one when there is none), ``use`` (never write)
or ``off``.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sparkkit.config import CLASS_ARCHIVE_ENV as MODE_ENV
from sparkkit.config import default_cache_dir
from sparkkit.errors import ConfigError

MODES = ("auto", "use", "off")
#: Silences HotSpot's CDS logging: a dump names every class it skips (hundreds of lines).
QUIET = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")
#: Environment that changes the launcher's class path, so it is part of an archive's key.
CLASS_PATH_ENV = (
    "SPARK_CONF_DIR",
    "HADOOP_CONF_DIR",
    "YARN_CONF_DIR",
    "SPARK_DIST_CLASSPATH",
    "SPARK_CLASSPATH",
)
#: The first bytes of a HotSpot dynamic archive (its magic number, little-endian).
DYNAMIC_MAGIC = bytes.fromhex("a8ab0bf0")  # 0xf00baba8
#: How long a training driver's exit may take to write its archive (seconds).
WRITE_TIMEOUT_S = 300.0


def mode(env: Mapping[str, str] | None = None) -> str:
    """``SPARKKIT_CLASS_ARCHIVE``, checked: one of :data:`MODES` (default ``auto``)."""
    value = (os.environ if env is None else env).get(MODE_ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        raise ConfigError(MODE_ENV, value, "one of " + ", ".join(MODES), "environment")
    return value


def archive_dir(cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / "jvm"


def empty_conf_dir(cache_dir: Path | None = None) -> Path:
    """The launcher's configuration directory: empty, so the class path can be archived."""
    path = archive_dir(cache_dir) / "empty-conf"
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_java(env: Mapping[str, str]) -> Path | None:
    """The ``java`` the Spark launcher runs: ``$JAVA_HOME/bin/java``, else the first on PATH."""
    if env.get("JAVA_HOME"):
        java = Path(env["JAVA_HOME"]) / "bin" / "java"
        return java.resolve() if java.is_file() else None
    found = shutil.which("java", path=env.get("PATH"))
    return Path(found).resolve() if found else None


def archive_key(java: Path, spark_home: Path, env: Mapping[str, str]) -> str:
    """What an archive depends on: the JVM, Spark's jars (names, sizes, times) and the class path."""
    digest = hashlib.sha256()
    for path in [java, *sorted((spark_home / "jars").glob("*.jar"))]:
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    for name in CLASS_PATH_ENV:
        digest.update(f"{name}={env.get(name, '')}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Archive:
    """One archive's files: the archive, the record of its size, and the writers' lock."""

    path: Path

    @property
    def record(self) -> Path:
        return self.path.with_suffix(".json")

    @property
    def lock(self) -> Path:
        return self.path.with_suffix(".lock")

    def partial(self, pid: int) -> Path:
        return self.path.with_suffix(f".{pid}.partial")

    def usable(self) -> bool:
        """Written whole: the archive's size is the one recorded after it was renamed into place."""
        try:
            recorded = json.loads(self.record.read_text(encoding="utf-8"))
            return bool(self.path.stat().st_size == recorded["size"])
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def failed(self) -> bool:
        """A driver exited normally without writing it: do not try again."""
        try:
            return bool(json.loads(self.record.read_text(encoding="utf-8")).get("failed"))
        except (OSError, ValueError, AttributeError):
            return False


@dataclass
class DriverLaunch:
    """How a driver JVM starts: ``java_options``, and ``state`` in words (using the archive,
    writing it at exit, or why neither); ``writes`` when it is (or would be) the one to write the
    archive, ``training`` where it writes."""

    java_options: list[str]
    state: str
    archive: Archive | None = None
    training: Path | None = None
    _lock: IO[Any] | None = None
    writes: bool = False

    def __post_init__(self) -> None:
        self.writes = self.writes or self.training is not None

    def started(self, proc: Any) -> None:
        """The driver is up (``proc`` its launcher process); a training one writes at exit."""
        global _launched
        _launched = (self, proc)
        if self.training is not None:
            atexit.register(finish_training)

    def finish(self, proc: Any) -> Archive | None:
        """Close the driver's stdin, wait while it writes the archive, move it into place."""
        assert self.archive is not None and self.training is not None
        print(
            f"[sparkkit] writing the JVM class archive for faster starts (once): {self.archive.path}",
            file=sys.stderr,
            flush=True,
        )
        try:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()  # PySpark's gateway exits when its stdin closes
            code = proc.wait(WRITE_TIMEOUT_S)
            if _starts_with(self.training, DYNAMIC_MAGIC):
                os.replace(self.training, self.archive.path)
                _write_json(self.archive.record, {"size": self.archive.path.stat().st_size})
                return self.archive
            if code == 0:
                _write_json(self.archive.record, {"failed": True, "exit_code": code})
            return None
        except Exception:  # an archive is an optimisation: never fail a finished job over one
            return None
        finally:
            self.training = None
            with contextlib.suppress(OSError):
                self.archive.partial(os.getpid()).unlink()
            if self._lock is not None:
                self._lock.close()


#: This process's driver launch and its launcher process (PySpark starts one JVM per process).
_launched: tuple[DriverLaunch, Any] | None = None


def launched() -> DriverLaunch | None:
    """How this process's driver JVM was started, when sparkkit started it."""
    return _launched[0] if _launched else None


def finish_training() -> Archive | None:
    """Let this process's training driver exit and write its archive (at exit, or sooner)."""
    if _launched is None or _launched[0].training is None:
        return None
    atexit.unregister(finish_training)
    return _launched[0].finish(_launched[1])


def plan_driver_launch(
    spark_home: Path, env: Mapping[str, str], cache_dir: Path | None = None, lock: bool = True
) -> DriverLaunch:
    """The archive options for a driver launched with ``env``: use it, write it, or neither.

    Writing it takes the archive's lock, held until the driver has written; ``lock=False`` only
    says what a driver would do."""
    wanted = mode(env)
    java = find_java(env)
    if wanted == "off":
        return DriverLaunch([], f"no class archive: {MODE_ENV}=off")
    if java is None or not (spark_home / "jars").is_dir():
        return DriverLaunch([], f"no class archive: no java or no {spark_home / 'jars'}")
    directory = archive_dir(cache_dir)
    archive = Archive(directory / f"spark-{archive_key(java, spark_home, env)}.jsa")
    if archive.usable():
        options = [f"-XX:SharedArchiveFile={archive.path}", "-XX:+VerifySharedSpaces", *QUIET]
        return DriverLaunch(options, f"starting from the class archive {archive.path}", archive)
    if archive.failed():
        return DriverLaunch([], f"no class archive: a driver could not write it ({archive.record})", archive)
    if wanted == "use":
        return DriverLaunch([], f"no class archive yet ({MODE_ENV}=use: none is written)", archive)
    if not lock:
        return DriverLaunch(
            [], f"no class archive yet: the next driver writes {archive.path}", archive, writes=True
        )
    held = _try_lock(archive.lock)
    if held is None:
        return DriverLaunch([], "no class archive yet: another driver is writing it", archive)
    for stale in directory.glob(archive.path.stem + ".*.partial"):
        with contextlib.suppress(OSError):
            stale.unlink()
    training = archive.partial(os.getpid())
    options = [f"-XX:ArchiveClassesAtExit={training}", *QUIET]
    return DriverLaunch(options, f"writing the class archive {archive.path} at exit", archive, training, held)


def _try_lock(path: Path) -> IO[Any] | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False


def _write_json(path: Path, value: dict[str, Any]) -> None:
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(value), encoding="utf-8")
    os.replace(partial, path)
