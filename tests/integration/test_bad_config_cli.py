"""Bad configuration through the real command: exit 2, one line on stderr, no traceback, no Spark.

Each command runs with a fake ``java`` (first on PATH and as JAVA_HOME) that leaves a marker file
when anything tries to start a JVM, so "Spark did not start" is seen, not assumed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import driver_env

FAST_S = 5.0  # each refusal takes well under a second; the margin is for a busy machine


@pytest.fixture
def fake_java(tmp_path: Path) -> Path:
    """A JAVA_HOME whose ``java`` only notes that it was started (in ``tmp_path/java-started``)."""
    home = tmp_path / "java-home"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "java-started"}\nexit 1\n')
    java.chmod(0o755)
    return home


def sparkkit(
    tmp_path: Path, java_home: Path, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``sparkkit ARGS`` in ``tmp_path``: the result and how long it took."""
    environment = driver_env(JAVA_HOME=str(java_home), **env)
    environment["PATH"] = f"{java_home / 'bin'}:{environment.get('PATH', '')}"
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    return result, time.monotonic() - start


def refused(tmp_path: Path, java_home: Path, fragment: str, *args: str, **env: str) -> str:
    """The one line of a refusal that contains ``fragment``, after checking the rule's every part."""
    result, took = sparkkit(tmp_path, java_home, *args, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sparkkit: error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "java-started").exists(), "a JVM was started"
    assert took < FAST_S, f"took {took:.1f} s"
    return lines[0]


def pipeline(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "shop.toml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


GOOD_STREAM = '[streams.clicks]\nsource = "generator://clicks?rate=5"\n'


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (b"[streams.clicks\n", "--pipeline="),
        (b"\xff\xfe", "a readable pipeline file"),
        (GOOD_STREAM + 'archive = "yes"\n', "[streams.clicks] archive=yes (from "),
        (GOOD_STREAM + 'working = "0 rows"\n', "[streams.clicks] working=0 rows"),
        (GOOD_STREAM + "sampel = 5\n", "unknown option [streams.clicks] sampel (from "),
        (
            '[streams.clicks]\nsource = "file:///tmp/in?format=json"\nschema = "user STRNG"\n',
            "did you mean STRING?",
        ),
        (GOOD_STREAM + '[queries.Clicks]\nsql = "SELECT * FROM clicks"\n', "[queries.Clicks]=Clicks"),
        (GOOD_STREAM + '[queries.q]\nsql = "SELECT 1"\n', "[queries.q] sql=SELECT 1"),
        (GOOD_STREAM + '[queries.q]\nsql = "SELECT * FROM clicks"\nmode = "all"\n', "append | update"),
        (GOOD_STREAM + '[streams."a\\nb"]\nsource = "generator://x"\n', "[streams.'a\\nb']"),
    ],
)
def test_a_bad_pipeline_file(fake_java: Path, tmp_path: Path, text: str | bytes, fragment: str) -> None:
    refused(tmp_path, fake_java, fragment, "run", "streams", "--pipeline", pipeline(tmp_path, text))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--master", "lokal[2]"], "--master=lokal[2]: a master URL such as local[*]"),
        (["--show", "x"], "--show=x"),
        (["--connect-port", "70000"], "--connect-port=70000"),
        (["--duration"], "argument --duration: expected one argument"),
        (["--duration", "soon"], "--duration=soon"),
        (["--pipline", "x.toml"], "did you mean --pipeline?"),
        (["--pipeline", "missing.toml"], "--pipeline=missing.toml: a readable pipeline file (TOML): no such"),
    ],
)
def test_a_bad_run_streams_option(fake_java: Path, tmp_path: Path, args: list[str], fragment: str) -> None:
    refused(tmp_path, fake_java, fragment, "run", "streams", *args)


def test_bad_job_options_from_flags_environment_and_conf_file(fake_java: Path, tmp_path: Path) -> None:
    source = ["--source", "generator://g?rate=5"]
    window = "argument --window: expected one argument"
    refused(tmp_path, fake_java, window, "run", "windowed_counts", *source, "--window")
    env = "--batch-interval=soon (from SPARKKIT_BATCH_INTERVAL)"
    refused(tmp_path, fake_java, env, "run", "wordcount", *source, SPARKKIT_BATCH_INTERVAL="soon")
    refused(tmp_path, fake_java, "--gap=", "run", "sessions", *source, "--checkpoint", "ck")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    not_dir = f"({a_file} is not a directory)"
    refused(tmp_path, fake_java, not_dir, "run", "wordcount", *source, "--checkpoint", str(a_file / "ck"))
    conf = tmp_path / "conf"
    (conf / "jobs").mkdir(parents=True)
    (conf / "jobs" / "wordcount.toml").write_bytes(b"\xff")
    utf8 = "a readable UTF-8 TOML file"
    refused(tmp_path, fake_java, utf8, "run", "wordcount", *source, SPARKKIT_CONF_DIR=str(conf))
    (conf / "jobs" / "wordcount.toml").write_text("window = 5\n")
    other = "window is not an option of wordcount"
    refused(tmp_path, fake_java, other, "run", "wordcount", *source, SPARKKIT_CONF_DIR=str(conf))


def test_the_fake_java_notices_a_spark_start(fake_java: Path, tmp_path: Path) -> None:
    """The check above is real: a good pipeline gets as far as starting a JVM, and fails there."""
    result, _ = sparkkit(
        tmp_path, fake_java, "run", "streams", "--pipeline", pipeline(tmp_path, GOOD_STREAM),
        "--checkpoint", str(tmp_path / "ck"), "--duration", "1s",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert (tmp_path / "java-started").exists()
    assert "could not start Spark" in result.stderr
