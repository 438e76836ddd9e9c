"""The driver JVM's class archive: Spark's classes loaded and verified once, mapped at every start.

A local Spark driver loads ~18,000 classes from ~280 jars and verifies each one at every start:
most of the seconds before a job's first output. HotSpot's class data sharing (CDS) maps them from
an archive instead. Java 17 writes such an archive of the classes a JVM loaded when that JVM exits
(``-XX:ArchiveClassesAtExit``; Java 19's ``-XX:+AutoCreateSharedArchive`` automates the same):
the first driver that finds no archive for its Java and Spark writes one as it exits, every later
driver starts from it.

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
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sparkkit.cache import default_cache_dir
from sparkkit.errors import ConfigError

MODE_ENV = "SPARKKIT_CLASS_ARCHIVE"
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
#: The JDK's files a dynamic archive depends on besides the java launcher (beside ``bin/``).
JDK_FILES = ("lib/server/libjvm.so", "lib/server/classes.jsa", "release")
#: The first bytes of a HotSpot dynamic archive (its magic number, little-endian); HotSpot writes
#: the header last, so a file that starts with them is whole.
DYNAMIC_MAGIC = bytes.fromhex("a8ab0bf0")  # 0xf00baba8
#: How long a training driver's exit may take to write its archive (seconds).
WRITE_TIMEOUT_S = 120.0
#: Archives kept in the cache (~180 MB each): the newest written; older ones (another Spark or
#: Java) are removed when a new one is written.
KEEP_ARCHIVES = 2


def mode(env: Mapping[str, str] | None = None) -> str:
    """``SPARKKIT_CLASS_ARCHIVE``, checked: one of :data:`MODES` (default ``auto``)."""
    value = (os.environ if env is None else env).get(MODE_ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        raise ConfigError(MODE_ENV, value, "one of " + ", ".join(MODES), "environment")
    return value


def archive_dir(cache_dir: Path | None = None) -> Path:
    """Where the archives, their size records and their writers' locks are."""
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
    """What an archive depends on: the JVM's files, Spark's jars (names, sizes, times) and the
    class path's variables."""
    jdk = java.parent.parent
    digest = hashlib.sha256()
    files = [java, *(jdk / name for name in JDK_FILES), *sorted((spark_home / "jars").glob("*.jar"))]
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    for name in CLASS_PATH_ENV:
        digest.update(f"{name}={env.get(name, '')}\n".encode())
    return digest.hexdigest()[:16]


def nonempty_class_path_dir(env: Mapping[str, str]) -> str | None:
    """A class-path variable naming a non-empty directory (HotSpot archives no such class path)."""
    for name in CLASS_PATH_ENV:
        for entry in filter(None, env.get(name, "").split(os.pathsep)):
            path = Path(entry.rstrip("*"))
            if path.is_dir() and any(path.iterdir()):
                return f"{name} names the non-empty directory {path}"
    return None


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
        recorded = self._recorded()
        try:
            return recorded.get("size") == self.path.stat().st_size
        except OSError:
            return False

    def failed(self) -> bool:
        """A driver exited by itself without writing it: do not try again."""
        return bool(self._recorded().get("failed"))

    def _recorded(self) -> dict[str, Any]:
        try:
            value = json.loads(self.record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class DriverLaunch:
    """How a driver JVM starts: ``java_options``, and ``state`` in words (using the archive,
    writing it at exit, or why neither). ``writes`` when it is (or would be) the one to write the
    archive; ``training`` is where it writes."""

    java_options: list[str]
    state: str
    archive: Archive | None = None
    training: Path | None = None
    writes: bool = False
    _lock: TextIO | None = None
    _owner: int = field(default_factory=os.getpid)

    def __post_init__(self) -> None:
        self.writes = self.writes or self.training is not None

    def started(self, proc: subprocess.Popen[bytes] | None, exit_jvm: Any = None) -> None:
        """The driver is up (``proc`` the JVM, ``exit_jvm`` asks it to exit); a training one
        writes at this process's exit."""
        global _launched
        if self.training is not None and proc is None:
            self.abandon()
        _launched = (self, proc, exit_jvm)
        if self.training is not None:
            atexit.register(finish_training)

    def abandon(self) -> None:
        """The driver did not start (or will not write): let another one write the archive."""
        self.training = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def finish(self, proc: subprocess.Popen[bytes], exit_jvm: Any = None) -> Archive | None:
        """Ask the driver to exit, wait while it writes the archive, move the archive into place.

        Only in the process that launched it (not in a forked child). The JVM exits when its
        stdin closes (PySpark's gateway) or when asked (``exit_jvm``: a forked child holding
        the pipe would keep it open). Never raises: an archive is an optimisation.
        """
        if self.archive is None or self.training is None or os.getpid() != self._owner:
            return None
        archive, training = self.archive, self.training
        _say(f"writing the JVM class archive for faster starts (once): {archive.path}")
        try:
            with contextlib.suppress(OSError, ValueError):
                if proc.stdin is not None:
                    proc.stdin.close()
            if exit_jvm is not None:
                with contextlib.suppress(Exception):
                    exit_jvm()
            code = proc.wait(WRITE_TIMEOUT_S)
            if _starts_with(training, DYNAMIC_MAGIC):
                os.replace(training, archive.path)
                _write_json(archive.record, {"size": archive.path.stat().st_size})
                _prune(archive)
                return archive
            if 0 <= code < 128:  # it exited by itself, not by a signal: HotSpot refused to write
                _write_json(archive.record, {"failed": True, "exit_code": code})
            return None
        except subprocess.TimeoutExpired:
            _say(f"the JVM did not exit within {WRITE_TIMEOUT_S:.0f} s: no class archive written")
            return None
        except KeyboardInterrupt:
            _say("interrupted: no class archive written")
            return None
        except Exception as exc:
            _say(f"no class archive written: {exc}")
            return None
        finally:
            with contextlib.suppress(OSError):
                training.unlink()
            self.abandon()


#: This process's driver launch, its JVM and how to ask it to exit (one JVM per process).
_launched: tuple[DriverLaunch, subprocess.Popen[bytes] | None, Any] | None = None


def launched() -> DriverLaunch | None:
    """How this process's driver JVM was started, when sparkkit started it."""
    return _launched[0] if _launched else None


def finish_training() -> Archive | None:
    """Let this process's training driver exit and write its archive (at exit, or sooner)."""
    if _launched is None:
        return None
    launch, proc, exit_jvm = _launched
    if launch.training is None or proc is None:
        return None
    atexit.unregister(finish_training)
    return launch.finish(proc, exit_jvm)


def plan_driver_launch(
    spark_home: Path, env: Mapping[str, str], cache_dir: Path | None = None, dry_run: bool = False
) -> DriverLaunch:
    """The archive options for a driver launched with ``env``: use it, write it, or neither.

    Writing it takes the archive's lock, held until the driver has written; ``dry_run`` only
    says what a driver would do.
    """
    wanted = mode(env)
    if wanted == "off":
        return DriverLaunch([], f"no class archive: {MODE_ENV}=off")
    java = find_java(env)
    if java is None or not (spark_home / "jars").is_dir():
        return DriverLaunch([], f"no class archive: no java or no {spark_home / 'jars'}")
    refused = nonempty_class_path_dir(env)
    if refused:
        return DriverLaunch([], f"no class archive: {refused}")
    directory = archive_dir(cache_dir)
    archive = Archive(directory / f"spark-{archive_key(java, spark_home, env)}.jsa")
    if archive.usable():
        options = [f"-XX:SharedArchiveFile={archive.path}", "-XX:+VerifySharedSpaces", *QUIET]
        return DriverLaunch(options, f"starting from the class archive {archive.path}", archive)
    if archive.failed():
        return DriverLaunch([], f"no class archive: a driver could not write it ({archive.record})", archive)
    if wanted == "use":
        return DriverLaunch([], f"no class archive yet ({MODE_ENV}=use: none is written)", archive)
    if dry_run:
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
    state = f"writing the class archive {archive.path} at exit"
    return DriverLaunch(options, state, archive, training, _lock=held)


def _prune(kept: Archive) -> None:
    """Remove all but the newest :data:`KEEP_ARCHIVES` archives (no writer holds their lock)."""
    others = sorted(kept.path.parent.glob("spark-*.jsa"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in [p for p in others if p != kept.path][KEEP_ARCHIVES - 1 :]:
        old = Archive(path)
        lock = _try_lock(old.lock)
        if lock is None:
            continue
        for file in (old.path, old.record, old.lock):
            with contextlib.suppress(OSError):
                file.unlink()
        lock.close()


def _say(text: str) -> None:
    print(f"[sparkkit] {text}", file=sys.stderr, flush=True)


def _try_lock(path: Path) -> TextIO | None:
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
