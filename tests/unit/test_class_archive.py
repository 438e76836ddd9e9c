"""The driver's class archive: when a driver uses it, writes it, or neither; never a partial one.

The archive is written and mapped by a real JVM here: a one-class Java program run from source
(it waits for its stdin to close, as PySpark's gateway does), so no Spark starts.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sparkkit.class_archive import (
    MODE_ENV,
    Archive,
    DriverLaunch,
    archive_key,
    find_java,
    mode,
    plan_driver_launch,
)
from sparkkit.class_archive import _prune as prune
from sparkkit.cli import main
from sparkkit.errors import ConfigError
from sparkkit.session import OWN_LAUNCHER_STATE, driver_launch

#: Prints whether another process may take a lock file (``held`` when it may not).
LOCK_PROBE = """
import fcntl, sys
with open(sys.argv[1], "a") as handle:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print("free")
    except OSError:
        print("held")
"""

WAITER = """class Waiter {
    public static void main(String[] args) throws Exception {
        while (System.in.read() != -1) {}
    }
}
"""


@pytest.fixture
def spark_home(tmp_path: Path) -> Path:
    """A Spark home with two jars: the key is made of their names, sizes and times."""
    home = tmp_path / "spark"
    (home / "jars").mkdir(parents=True)
    for name in ("a.jar", "b.jar"):
        (home / "jars" / name).write_bytes(b"jar " + name.encode())
    return home


@pytest.fixture
def env() -> dict[str, str]:
    java = find_java(os.environ)
    assert java is not None, "these tests need java (JAVA_HOME or on PATH)"
    return {"JAVA_HOME": str(java.parent.parent), MODE_ENV: "auto"}


def waiter(env: dict[str, str], directory: Path) -> tuple[Path, Path]:
    """The JVM and the Java source of a driver stand-in that exits when its stdin closes."""
    java = find_java(env)
    assert java is not None
    source = directory / "Waiter.java"
    source.write_text(WAITER, encoding="utf-8")
    return java, source


def training_driver(
    spark_home: Path, env: dict[str, str], directory: Path
) -> tuple[DriverLaunch, subprocess.Popen[bytes]]:
    """The first driver's plan, and a stand-in JVM started with it (it writes when it exits)."""
    java, source = waiter(env, directory)
    launch = plan_driver_launch(spark_home, env, directory)
    assert launch.training is not None
    return launch, subprocess.Popen([str(java), *launch.java_options, str(source)], stdin=subprocess.PIPE)


def jvm_exiting_by_itself(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A JVM that exits normally at once (``java -version``) without writing any archive."""
    java = find_java(env)
    assert java is not None
    return subprocess.Popen([str(java), "-version"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)


def test_mode_is_checked_and_a_bad_value_stops_every_command_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mode({}) == "auto"
    assert [mode({MODE_ENV: value}) for value in ("use", "OFF", " auto ")] == ["use", "off", "auto"]
    with pytest.raises(ConfigError) as raised:
        mode({MODE_ENV: "sometimes"})
    assert str(raised.value) == f"{MODE_ENV}=sometimes (from environment): one of auto, use, off"
    monkeypatch.setenv(MODE_ENV, "sometimes")
    assert main(["jobs"]) == 2
    assert (
        capsys.readouterr().err
        == f"sparkkit: error: {MODE_ENV}=sometimes (from environment): one of auto, use, off\n"
    )


def test_the_first_driver_writes_and_holds_the_lock_others_start_without(
    spark_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    first = plan_driver_launch(spark_home, env, tmp_path)
    assert first.writes and first.training is not None and first.archive is not None
    assert first.java_options[0] == f"-XX:ArchiveClassesAtExit={first.training}"
    assert first.training.parent == first.archive.path.parent
    second = plan_driver_launch(spark_home, env, tmp_path)  # the lock is the first one's
    assert (second.java_options, second.writes) == ([], False)
    assert second.state == "no class archive yet: another driver is writing it"
    other_process = subprocess.run(
        [sys.executable, "-c", LOCK_PROBE, str(first.archive.lock)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other_process.stdout == "held\n"
    first.abandon()  # its driver did not start: the next may write
    assert plan_driver_launch(spark_home, env, tmp_path).writes
    assert plan_driver_launch(spark_home, {**env, MODE_ENV: "use"}, tmp_path).java_options == []
    assert plan_driver_launch(spark_home, {**env, MODE_ENV: "off"}, tmp_path).state == (
        f"no class archive: {MODE_ENV}=off"
    )
    dry = plan_driver_launch(spark_home, env, tmp_path, dry_run=True)
    assert dry.writes and dry.training is None and dry.java_options == []


def test_the_key_changes_with_the_jars_the_java_and_the_class_path(
    spark_home: Path, env: dict[str, str]
) -> None:
    java = find_java(env)
    assert java is not None
    key = archive_key(java, spark_home, env)
    assert archive_key(java, spark_home, dict(env)) == key
    assert archive_key(java, spark_home, {**env, "HADOOP_CONF_DIR": "/etc/hadoop"}) != key
    assert archive_key(java, spark_home, {**env, "SPARK_CONF_DIR": "/elsewhere"}) != key
    (spark_home / "jars" / "b.jar").write_bytes(b"a newer b.jar")
    assert archive_key(java, spark_home, env) != key
    (spark_home / "jars" / "c.jar").write_bytes(b"")
    assert len({key, archive_key(java, spark_home, env)}) == 2


def test_a_real_jvm_writes_the_archive_at_exit_and_the_next_one_maps_it(
    spark_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    launch, proc = training_driver(spark_home, env, tmp_path)
    assert launch.archive is not None
    java, source = waiter(env, tmp_path)
    archive = launch.finish(proc)  # closes its stdin, waits while it writes, renames
    assert archive == launch.archive and proc.returncode == 0
    assert archive.usable()
    assert json.loads(archive.record.read_text()) == {"size": archive.path.stat().st_size}
    assert not list(tmp_path.glob("**/*.partial"))
    using = plan_driver_launch(spark_home, env, tmp_path)
    assert using.state == f"starting from the class archive {archive.path}"
    assert f"-XX:SharedArchiveFile={archive.path}" in using.java_options
    # -Xshare:on refuses to start unless the archive is really mapped
    mapped = subprocess.run(
        [str(java), "-Xshare:on", *using.java_options, str(source)],
        input=b"",
        capture_output=True,
        timeout=120,
    )
    assert mapped.returncode == 0, mapped.stderr.decode()


def test_an_archive_not_written_whole_is_never_used(
    spark_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """A truncated archive crashes the JVM: only one whose size is the recorded one is used."""
    launch = plan_driver_launch(spark_home, env, tmp_path, dry_run=True)
    assert launch.archive is not None
    archive = launch.archive
    archive.path.parent.mkdir(parents=True, exist_ok=True)
    archive.path.write_bytes(b"\xa8\xab\x0b\xf0" + bytes(4096))
    assert not archive.usable()  # no record: its writer has not finished
    archive.record.write_text(json.dumps({"size": 8192}))
    assert not archive.usable()  # cut short
    assert plan_driver_launch(spark_home, env, tmp_path, dry_run=True).java_options == []
    archive.record.write_text(json.dumps({"size": 4100}))
    assert archive.usable()


def test_a_driver_that_exits_without_writing_is_not_retried(
    spark_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    launch = plan_driver_launch(spark_home, env, tmp_path)
    assert launch.archive is not None
    proc = jvm_exiting_by_itself(env)  # started without the option: writes nothing
    assert launch.finish(proc) is None
    assert Archive(launch.archive.path).failed()
    after = plan_driver_launch(spark_home, env, tmp_path)
    assert (after.java_options, after.writes) == ([], False)
    assert after.state == f"no class archive: a driver could not write it ({launch.archive.record})"


def test_a_jvm_killed_before_it_wrote_leaves_no_record_and_the_next_driver_writes(
    spark_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    launch, proc = training_driver(spark_home, env, tmp_path)
    assert launch.archive is not None
    proc.kill()
    assert launch.finish(proc) is None and proc.returncode == -signal.SIGKILL
    assert not launch.archive.record.exists() and not launch.archive.path.exists()
    assert plan_driver_launch(spark_home, env, tmp_path).writes


def test_only_the_process_that_launched_the_driver_finishes_it(
    spark_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """A forked child runs its parent's atexit handlers: it must not wait for, or judge, the JVM."""
    launch = plan_driver_launch(spark_home, env, tmp_path)
    assert launch.archive is not None
    proc = jvm_exiting_by_itself(env)
    child = os.fork()
    if child == 0:
        os._exit(0 if launch.finish(proc) is None and not launch.archive.record.exists() else 1)
    assert os.waitpid(child, 0)[1] == 0
    assert proc.wait(60) == 0 and not launch.archive.record.exists()
    launch.abandon()


def test_a_non_empty_directory_on_the_class_path_means_no_archive(
    spark_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    hadoop = tmp_path / "hadoop-conf"
    hadoop.mkdir()
    assert plan_driver_launch(spark_home, {**env, "HADOOP_CONF_DIR": str(hadoop)}, tmp_path).writes
    (hadoop / "core-site.xml").write_text("<configuration/>")
    refused = plan_driver_launch(spark_home, {**env, "HADOOP_CONF_DIR": str(hadoop)}, tmp_path, dry_run=True)
    assert (refused.java_options, refused.writes) == ([], False)
    assert refused.state == f"no class archive: HADOOP_CONF_DIR names the non-empty directory {hadoop}"


def test_a_new_archive_removes_all_but_the_newest_others(tmp_path: Path) -> None:
    directory = tmp_path / "jvm"
    directory.mkdir()
    old = [Archive(directory / f"spark-{name}.jsa") for name in ("old1", "old2", "old3")]
    for age, archive in enumerate(old):
        archive.path.write_bytes(b"x")
        archive.record.write_text(json.dumps({"size": 1}))
        os.utime(archive.path, (1_000_000 + age, 1_000_000 + age))
    new = Archive(directory / "spark-new.jsa")
    new.path.write_bytes(b"y")
    prune(new)
    assert sorted(p.name for p in directory.iterdir()) == [
        "spark-new.jsa", "spark-old3.jsa", "spark-old3.json",
    ]  # fmt: skip


def test_the_launcher_gets_sparkkit_conf_as_files_and_the_environment_is_restored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    conf = tmp_path / "my conf"  # a space: the JVM options are quoted for the launcher
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text("spark.ui.enabled false\n")
    (conf / "log4j2.properties").write_text("rootLogger.level = warn\n")
    for name in ("SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SPARK_SUBMIT_OPTS", "-Duser.timezone=UTC")
    monkeypatch.setenv(MODE_ENV, "use")
    with driver_launch(conf) as launch:
        assert os.environ["PYSPARK_SUBMIT_ARGS"] == shlex.join(
            ["--properties-file", str(conf / "spark-defaults.conf"), "pyspark-shell"]
        )
        assert os.environ["SPARK_CONF_DIR"] == str(tmp_path / "cache" / "sparkkit" / "jvm" / "empty-conf")
        assert not any((tmp_path / "cache" / "sparkkit" / "jvm" / "empty-conf").iterdir())
        assert shlex.split(os.environ["SPARK_SUBMIT_OPTS"]) == [
            "-Duser.timezone=UTC", f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
        ]  # fmt: skip
        assert launch.state.startswith("no class archive yet")
    assert "PYSPARK_SUBMIT_ARGS" not in os.environ and "SPARK_CONF_DIR" not in os.environ
    assert os.environ["SPARK_SUBMIT_OPTS"] == "-Duser.timezone=UTC"


def test_a_users_own_launcher_configuration_wins_without_an_archive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPARK_CONF_DIR", str(tmp_path / "theirs"))
    monkeypatch.delenv("PYSPARK_SUBMIT_ARGS", raising=False)
    with driver_launch(tmp_path) as launch:
        assert os.environ["SPARK_CONF_DIR"] == str(tmp_path / "theirs")
        assert "PYSPARK_SUBMIT_ARGS" not in os.environ
    assert (launch.java_options, launch.state) == ([], OWN_LAUNCHER_STATE)


def test_an_unwritable_cache_starts_spark_as_before(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    (tmp_path / "spark-defaults.conf").write_text("spark.ui.enabled false\n")
    for name in ("SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    with driver_launch(tmp_path) as launch:
        assert os.environ["SPARK_CONF_DIR"] == str(tmp_path)
        assert "PYSPARK_SUBMIT_ARGS" not in os.environ
    assert launch.java_options == [] and launch.state.startswith("no class archive: [Errno")
