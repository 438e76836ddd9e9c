"""Kafka with SASL/SCRAM, configured as Spark's connector is: jobs in both APIs, the sink, `produce`.

The tansu shipped with sparkkit (0.6.0) cannot let a SCRAM user in (its storage keeps no users;
see ``tests/scram_proxy.py``), so an authenticating front — a real SCRAM server exchange,
Apache Kafka's error 58 for a wrong password — sits before a plain tansu for the jobs. The
authenticating tansu itself is used where a refusal is what is tested. Every job and command
runs as a user runs it (``sparkkit run|produce`` in a process of its own), so its secrets go
the way they do in production: concealed in the address, revealed only by the Kafka client.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkkit.broker import tansu_binary
from sparkkit.sources import generator_lines
from sparkkit.testing.plugin import free_port
from tests.processes import ROOT, batch_interval, driver_env, start_driver, stop_gracefully, wait_until
from tests.sasl import (
    PASSWORD,
    WRONG,
    fill,
    new_topic,
    read_all,
    sasl_query,
    start,
    wait_for_port,
    word_totals,
)


@pytest.fixture(scope="module")
def authenticating_tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded broker itself with ``--authentication``: it refuses every login (no users)."""
    log, port = tmp_path_factory.mktemp("auth") / "tansu.log", free_port()
    broker = start(
        [str(tansu_binary()), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{port}", "--storage-engine", "memory://tansu/",
         "--authentication"],
        log,
    )  # fmt: skip
    try:
        wait_for_port(broker, port, log)
        yield f"127.0.0.1:{port}"
    finally:
        broker.terminate()
        broker.wait(timeout=30)


@pytest.mark.parametrize(("api", "client"), [("structured", "confluent"), ("dstream", "kafka-python")])
def test_wordcount_reads_and_writes_kafka_with_scram(
    scram_bootstrap: str, tmp_path: Path, api: str, client: str
) -> None:
    lines = [f"w{i % 5} common" for i in range(300)]
    expected = Counter(word for line in lines for word in line.split())
    source_topic, sink_topic = new_topic(scram_bootstrap), new_topic(scram_bootstrap)
    fill(scram_bootstrap, source_topic, lines)
    options = f"client={client}&{sasl_query()}"
    log = tmp_path / "driver.log"
    driver = start_driver(
        ["run", "wordcount", "--api", api, "--batch-interval", batch_interval(api),
         "--checkpoint", str(tmp_path / "ck"),
         "--source", f"kafka://{scram_bootstrap}/{source_topic}?startingOffsets=earliest&{options}",
         "--sink", f"kafka://{scram_bootstrap}/{sink_topic}?{options}"],
        log,
    )  # fmt: skip
    try:
        wait_until(
            lambda: word_totals(read_all(scram_bootstrap, sink_topic)) == expected, 240, "exact totals", log
        )
    finally:
        code = stop_gracefully(driver)
    assert code == 0, log.read_text()[-3000:]
    assert word_totals(read_all(scram_bootstrap, sink_topic)) == expected  # and nothing more came
    assert PASSWORD not in log.read_text()


def sparkkit(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "sparkkit.cli", *args], capture_output=True, text=True, env=driver_env(),
        cwd=ROOT, timeout=120,
    )  # fmt: skip
    return result, time.monotonic() - started


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_produce_sends_with_scram(scram_bootstrap: str, client: str) -> None:
    topic = new_topic(scram_bootstrap)
    address = f"kafka://{scram_bootstrap}/{topic}?client={client}&{sasl_query()}"
    result, _ = sparkkit("produce", address, "--from", "generator://g?keys=3&seed=2", "--count", "50")
    assert result.returncode == 0, result.stderr
    assert "sent 50 records" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    values = sorted(value for _, value in read_all(scram_bootstrap, topic))
    assert values == sorted(generator_lines("g", 0, 50, 2, 3))


def refused_quickly(result: subprocess.CompletedProcess[str], seconds: float, password: str) -> str:
    """The one line a refused login ends a command with; checks it came fast and hides the password."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert seconds < 20, f"took {seconds:.1f} s"
    assert password not in result.stdout + result.stderr and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_a_wrong_password_fails_fast_in_one_line_without_showing_it(
    scram_bootstrap: str, tmp_path: Path, client: str
) -> None:
    topic = new_topic(scram_bootstrap)
    address = f"kafka://{scram_bootstrap}/{topic}?client={client}&{sasl_query(WRONG)}"
    commands = {
        "source": ["run", "wordcount", "--source", address, "--sink", f"json://{tmp_path / 'out'}"],
        "sink": ["run", "wordcount", "--source", "generator://g?rate=10", "--sink", address],
        "produce": ["produce", address, "--from", "generator://g", "--count", "1"],
    }
    for command in commands.values():
        line = refused_quickly(*sparkkit(*command), WRONG)
        assert line.startswith(
            f"sparkkit: error: Kafka at {scram_bootstrap} (client {client}) refused the credentials"
        )
        assert "kafka.sasl.jaas.config" in line
    assert read_all(scram_bootstrap, topic) == []  # produce sent nothing


def test_the_embedded_broker_with_authentication_refuses_a_scram_login_fast(
    authenticating_tansu: str,
) -> None:
    # tansu 0.6.0's storage keeps no SCRAM users: `tansu user create` succeeds and stores nothing
    address = f"kafka://{authenticating_tansu}/t?client=confluent&{sasl_query()}"
    line = refused_quickly(*sparkkit("produce", address, "--from", "generator://g", "--count", "1"), PASSWORD)
    assert "refused the credentials" in line and "unknown-user" in line
