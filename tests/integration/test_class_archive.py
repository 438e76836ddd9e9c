"""The driver's class archive with real drivers: the first writes it as it exits, the next starts
from it (HotSpot says so), and ``sparkkit warm-up`` writes one on purpose.

Each test has a cache directory of its own (``XDG_CACHE_HOME``) and ``SPARKKIT_CLASS_ARCHIVE=auto``,
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


def test_the_first_driver_writes_the_archive_at_exit_and_the_next_starts_from_it(tmp_path: Path) -> None:
    cache, inputs = tmp_path / "cache", tmp_path / "in"
    inputs.mkdir()
    (inputs / "words.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    env = {"XDG_CACHE_HOME": str(cache), MODE_ENV: "auto"}

    def arguments(out: Path) -> list[str]:
        return ["run", "wordcount", "--source", f"file://{inputs}", "--sink", f"json://{out}"]

    first = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *arguments(tmp_path / "out1"), "--duration", "6s"],
        capture_output=True, text=True, env=driver_env(**env), cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr[-3000:]
    assert json_word_totals(tmp_path / "out1") == expected_totals()
    [archive] = archives(cache)
    assert f"[sparkkit] writing the JVM class archive for faster starts (once): {archive}" in first.stderr
    assert json.loads(archive.with_suffix(".json").read_text()) == {"size": archive.stat().st_size}
    assert not list(archive.parent.glob("*.partial"))

    log = tmp_path / "second.log"
    second = start_driver(arguments(tmp_path / "out2"), log, **env)
    try:
        wait_until(lambda: json_word_totals(tmp_path / "out2") == expected_totals(), 240, "the counts", log)
        jvm = jvm_of(second.pid)
        command = Path(f"/proc/{jvm}/cmdline").read_bytes().split(b"\0")
        assert f"-XX:SharedArchiveFile={archive}".encode() in command
        assert not any(part.startswith(b"-XX:ArchiveClassesAtExit") for part in command)
        base, base_top, top = mapped_archives(jvm)
        assert base < base_top < top, "only the JDK's own archive is mapped, not sparkkit's"
    finally:
        assert stop_gracefully(second) == 0
    assert "writing the JVM class archive" not in log.read_text()
    assert archives(cache) == [archive]


def test_warm_up_writes_the_archive_once(tmp_path: Path) -> None:
    env = driver_env(XDG_CACHE_HOME=str(tmp_path / "cache"), **{MODE_ENV: "auto"})
    command = [sys.executable, "-m", "sparkkit.cli", "warm-up"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [archive] = archives(tmp_path / "cache")
    assert done.stdout.splitlines()[-1] == f"wrote the class archive {archive}"
    again = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert (again.returncode, again.stdout) == (0, f"the class archive is there: {archive}\n")
    off = subprocess.run(command, capture_output=True, text=True, env={**env, MODE_ENV: "off"}, timeout=120)
    assert (off.returncode, off.stdout) == (0, f"no class archive: {MODE_ENV}=off\n")
