"""The driver's class archive with real drivers: ``sparkkit warm-up`` writes it, the next driver
starts from it (HotSpot says so).

The test has a cache directory of its own (``XDG_CACHE_HOME``) and ``SPARKKIT_CLASS_ARCHIVE=auto``,
so it starts with no archive whatever the suite's warm-up wrote.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sparkkit.class_archive import MODE_ENV, find_java
from tests.processes import (
    ROOT,
    descendants,
    driver_env,
    json_word_totals,
    start_driver,
    stop_gracefully,
    wait_until,
)

pytestmark = pytest.mark.slow

LINES = ["the quick brown fox", "jumps over the lazy dog", "the end"]


def expected_totals() -> Counter[str]:
    return Counter(word for line in LINES for word in line.split())


def archives(cache: Path) -> list[Path]:
    return sorted((cache / "sparkkit" / "jvm").glob("*.jsa"))


def mapped_archives(pid: int) -> tuple[int, int, int]:
    """HotSpot's ``CDS archive(s) mapped at: [base, top of the base archive, top)`` of a JVM:
    the top is above the base archive's only when a dynamic archive is mapped too."""
    java = find_java(driver_env())
    assert java is not None
    info = subprocess.run(
        [str(java.parent / "jcmd"), str(pid), "VM.info"], capture_output=True, text=True, timeout=60
    ).stdout
    found = re.search(r"CDS archive\(s\) mapped at: \[(0x[0-9a-f]+)-(0x[0-9a-f]+)-(0x[0-9a-f]+)\)", info)
    assert found, f"no CDS line in jcmd VM.info: {info[:2000]}"
    base, base_top, top = (int(value, 16) for value in found.groups())
    return base, base_top, top


def jvm_of(pid: int) -> int:
    jvms = [
        child for child in descendants(pid) if b"SparkSubmit" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]
    assert len(jvms) == 1, jvms
    return jvms[0]


def test_warm_up_writes_the_archive_once_and_the_next_driver_starts_from_it(tmp_path: Path) -> None:
    """One archive dump for all the claims (each costs a driver and ~180 MB written). A plain
    run writes at its exit through ``finish_training`` too (registered with ``atexit``); the unit
    tests finish a real, small JVM's archive the same way."""
    cache, inputs = tmp_path / "cache", tmp_path / "in"
    inputs.mkdir()
    (inputs / "words.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    env = {"XDG_CACHE_HOME": str(cache), MODE_ENV: "auto"}

    def warm_up(**extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "sparkkit.cli", "warm-up"]
        return subprocess.run(
            command, capture_output=True, text=True, env=driver_env(**{**env, **extra}), cwd=ROOT, timeout=600
        )

    done = warm_up()
    assert done.returncode == 0, done.stderr[-3000:]
    [archive] = archives(cache)
    assert done.stdout.splitlines()[-1] == f"wrote the class archive {archive}"
    assert json.loads(archive.with_suffix(".json").read_text()) == {"size": archive.stat().st_size}
    assert not list(archive.parent.glob("*.partial"))
    again = warm_up()
    assert (again.returncode, again.stdout) == (0, f"the class archive is there: {archive}\n")
    said = warm_up(**{MODE_ENV: "off"})
    assert (said.returncode, said.stdout) == (0, f"no class archive: {MODE_ENV}=off\n")

    log, out = tmp_path / "run.log", tmp_path / "out"
    driver = start_driver(
        ["run", "wordcount", "--source", f"file://{inputs}", "--sink", f"json://{out}"], log, **env
    )
    try:
        wait_until(lambda: json_word_totals(out) == expected_totals(), 240, "the counts", log)
        jvm = jvm_of(driver.pid)
        command = Path(f"/proc/{jvm}/cmdline").read_bytes().split(b"\0")
        assert f"-XX:SharedArchiveFile={archive}".encode() in command
        assert not any(part.startswith(b"-XX:ArchiveClassesAtExit") for part in command)
        base, base_top, top = mapped_archives(jvm)
        assert base < base_top < top, "only the JDK's own archive is mapped, not sparkkit's"
    finally:
        assert stop_gracefully(driver) == 0
    assert "writing the JVM class archive" not in log.read_text()
    assert archives(cache) == [archive]
