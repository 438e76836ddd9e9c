"""The driver's class archive: when a driver uses it, writes it, or neither; never a partial one.

The archive is written and mapped by a real JVM here: a one-class Java program run from source
(it waits for its stdin to close, as PySpark's gateway does), so no Spark starts.
"""

from __future__ import annotations

import json
import os
import subprocess
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
from sparkkit.cli import main
from sparkkit.errors import ConfigError

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
    assert plan_driver_launch(spark_home, {**env, MODE_ENV: "use"}, tmp_path).java_options == []
    assert plan_driver_launch(spark_home, {**env, MODE_ENV: "off"}, tmp_path).state == (
        f"no class archive: {MODE_ENV}=off"
    )
    dry = plan_driver_launch(spark_home, env, tmp_path, lock=False)
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
    java = find_java(env)
    assert java is not None
    source = tmp_path / "Waiter.java"
    source.write_text(WAITER, encoding="utf-8")
    launch = plan_driver_launch(spark_home, env, tmp_path)
    assert launch.archive is not None and launch.training is not None
    proc = subprocess.Popen([str(java), *launch.java_options, str(source)], stdin=subprocess.PIPE)
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
    launch = plan_driver_launch(spark_home, env, tmp_path, lock=False)
    assert launch.archive is not None
    archive = launch.archive
    archive.path.parent.mkdir(parents=True, exist_ok=True)
    archive.path.write_bytes(b"\xa8\xab\x0b\xf0" + bytes(4096))
    assert not archive.usable()  # no record: its writer has not finished
    archive.record.write_text(json.dumps({"size": 8192}))
    assert not archive.usable()  # cut short
    assert plan_driver_launch(spark_home, env, tmp_path, lock=False).java_options == []
    archive.record.write_text(json.dumps({"size": 4100}))
    assert archive.usable()


def test_a_driver_that_exits_without_writing_is_not_retried(
    spark_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    java = find_java(env)
    assert java is not None
    launch = plan_driver_launch(spark_home, env, tmp_path)
    assert launch.archive is not None
    # a JVM started without the option exits normally and writes nothing
    proc = subprocess.Popen([str(java), "-version"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert launch.finish(proc) is None
    assert Archive(launch.archive.path).failed()
    after = plan_driver_launch(spark_home, env, tmp_path)
    assert (after.java_options, after.writes) == ([], False)
    assert after.state == f"no class archive: a driver could not write it ({launch.archive.record})"


def test_a_launch_that_writes_nothing_has_nothing_to_finish() -> None:
    assert DriverLaunch([], "the JVM was up").writes is False
