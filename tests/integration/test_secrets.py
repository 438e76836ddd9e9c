"""A secret in every place an address goes, then every byte the runs printed or wrote searched.

One Kafka password (SASL/SCRAM, named as Spark's connector names it) is in the source, the
sink and the dead-letter addresses of a real job in each API (given on its command line, which
``ps`` shows: a user who minds sets them in ``SPARKKIT_*`` variables or a conf file), in
``sparkkit checkpoint inspect``'s checkpoint, in ``sparkkit submit --dry-run`` and in a
command pointed at a broker that does not answer. The runs keep Spark's event log. Afterwards
nothing they printed, nothing under the test's directory (checkpoint, manifest, metrics, plan
logs, event log) and no process the job started (its JVM, Python workers) holds the password,
in clear or URL-quoted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.processes import (
    ROOT,
    batch_interval,
    descendants,
    driver_env,
    start_driver,
    stop_gracefully,
    wait_until,
)
from tests.sasl import PASSWORD, fill, new_topic, read_all, sasl_query, word_totals

FORMS = (PASSWORD.encode(), quote(PASSWORD, safe="").encode())
BAD_VALUES = [b"\xff\xfe not text", b"\xc3\x28"]
pytestmark = pytest.mark.slow


def conf_with_event_log(tmp_path: Path) -> Path:
    """sparkkit's Spark conf directory plus an event log under ``tmp_path``."""
    conf = tmp_path / "spark-conf"
    conf.mkdir()
    for name in ("spark-defaults.conf", "log4j2.properties"):
        shutil.copy(ROOT / "conf" / name, conf / name)
    events = tmp_path / "events"
    events.mkdir()
    with open(conf / "spark-defaults.conf", "a") as fh:
        fh.write(f"\nspark.eventLog.enabled true\nspark.eventLog.dir file://{events}\n")
    return conf


def hits(data: bytes) -> list[bytes]:
    return [form for form in FORMS if form in data]


def files_holding_the_secret(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and hits(p.read_bytes())]


def child_command_lines(pid: int) -> list[bytes]:
    """The command lines of the processes ``pid`` started (its JVM, Python workers)."""
    lines = []
    for child in descendants(pid):
        with contextlib.suppress(OSError):  # ended meanwhile
            lines.append(Path(f"/proc/{child}/cmdline").read_bytes())
    return lines


def sparkkit(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args], capture_output=True, text=True,
        env=driver_env(**env), cwd=ROOT, timeout=180,
    )  # fmt: skip


@pytest.mark.parametrize("api", ["structured", "dstream"])
def test_a_secret_appears_in_nothing_a_run_prints_or_writes(
    scram_bootstrap: str, tmp_path: Path, api: str
) -> None:
    conf = conf_with_event_log(tmp_path)
    lines = [f"w{i % 7} common" for i in range(200)]
    expected = Counter(word for line in lines for word in line.split())
    source, sink, letters = (new_topic(scram_bootstrap) for _ in range(3))
    fill(scram_bootstrap, source, lines)
    from confluent_kafka import Producer

    from tests.sasl import librdkafka_login

    producer = Producer(librdkafka_login(scram_bootstrap))
    for value in BAD_VALUES:
        producer.produce(source, value=value, partition=0)
    assert producer.flush(30) == 0

    login = sasl_query()
    checkpoint = tmp_path / "ck"
    arguments = [
        "--api", api, "--batch-interval", batch_interval(api), "--checkpoint", str(checkpoint),
        "--source", f"kafka://{scram_bootstrap}/{source}?startingOffsets=earliest&{login}",
        "--sink", f"kafka://{scram_bootstrap}/{sink}?{login}",
        "--dead-letters", f"kafka://{scram_bootstrap}/{letters}?{login}",
    ]  # fmt: skip
    assert any(hits(argument.encode()) for argument in arguments)  # the secret really is there
    log = tmp_path / "driver.log"
    driver = start_driver(["run", "wordcount", *arguments], log, SPARK_CONF_DIR=str(conf))
    try:
        wait_until(
            lambda: word_totals(read_all(scram_bootstrap, sink)) == expected
            and len(read_all(scram_bootstrap, letters)) == len(BAD_VALUES),
            240, "exact totals and every dead letter", log,
        )  # fmt: skip
        running = child_command_lines(driver.pid)
    finally:
        code = stop_gracefully(driver)
    assert code == 0, log.read_text()[-3000:]
    assert len(running) >= 2 and not [line for line in running if hits(line)]

    printed = []
    inspect = sparkkit("checkpoint", "inspect", str(checkpoint / "wordcount" / "main"))
    assert inspect.returncode == 0, inspect.stderr
    assert f"kafka://{scram_bootstrap}/{source}?kafka.sasl.mechanism=SCRAM-SHA-256" in inspect.stdout
    printed.append(inspect.stdout + inspect.stderr)

    silent = sparkkit("run", "wordcount", "--api", api, "--source", f"kafka://127.0.0.1:9/{source}?{login}")
    assert silent.returncode == 2 and "no Kafka broker answers at 127.0.0.1:9" in silent.stderr
    printed.append(silent.stdout + silent.stderr)

    dry_run = sparkkit("submit", "wordcount", "--master", "local[2]", "--dry-run", *arguments)
    assert dry_run.returncode == 0, dry_run.stderr
    assert "sparkkit-secret:SPARKKIT_SECRET_" in dry_run.stdout  # a reference travels, not the value
    printed.append(dry_run.stdout + dry_run.stderr)

    assert not [text for text in printed if hits(text.encode())]
    assert not hits(log.read_bytes())
    assert any(os.scandir(tmp_path / "events")), "Spark wrote no event log"
    assert (checkpoint / "wordcount" / "main" / "sparkkit" / "manifest.json").is_file()
    assert files_holding_the_secret(tmp_path) == []
