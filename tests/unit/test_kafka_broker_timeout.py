"""``brokerTimeout``: the option, the wait (retries, reports, the limit) and the reader's offsets
across an outage, without a broker; the waits against a real one are tests/recovery/test_broker_outage.py."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from rich.console import Console

from sparkkit import kafka_client
from sparkkit.addresses import parse_sink, parse_source
from sparkkit.errors import BrokerTimeoutError, ConfigError, KafkaAuthenticationError, KafkaError
from sparkkit.kafka_client import BROKER_TIMEOUT, ClientConfig, _retrying
from sparkkit.liveview import LiveView
from sparkkit.sinks.kafka import KafkaSink
from sparkkit.sources.kafka import KafkaSource
from tests.unit.test_kafka_offsets import FixedOffsets


def test_broker_timeout_is_two_minutes_by_default_and_any_duration_in_any_case() -> None:
    assert ClientConfig.from_params("b:9092", {}).timeout == BROKER_TIMEOUT
    assert str(BROKER_TIMEOUT) == "2m"
    assert ClientConfig.from_params("b:9092", {"brokerTimeout": "30s"}).timeout_ms == 30_000
    assert ClientConfig.from_params("b:9092", {"BROKERTIMEOUT": "1h"}).timeout_ms == 3_600_000


@pytest.mark.parametrize("value", ["soon", "0", "0s", "-1s", "1.5ms", ""])
def test_a_bad_broker_timeout_is_one_config_error_naming_the_option_and_the_address(value: str) -> None:
    source = KafkaSource(parse_source(f"kafka://127.0.0.1:1/t?brokerTimeout={value}", "--source"))
    with pytest.raises(ConfigError) as raised:
        source.check()  # before anything connects
    assert raised.value.option == "brokerTimeout" and raised.value.exit_code == 2
    assert str(raised.value).startswith(f"brokerTimeout={value} (from --source kafka://127.0.0.1:1/t): ")
    assert "a duration such as" in str(raised.value) and "\n" not in str(raised.value)
    sink = KafkaSink(parse_sink(f"kafka://127.0.0.1:1/t?brokerTimeout={value}", "--sink"))
    with pytest.raises(ConfigError, match=f"^brokerTimeout={value} \\(from --sink "):
        sink.check()  # the sink knows the option (not "unknown option"), and checks its value


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Backoff of milliseconds, reports every time, collected."""
    monkeypatch.setattr(kafka_client, "BACKOFF_S", (0.001, 0.002))
    monkeypatch.setattr(kafka_client, "REPORT_EVERY_S", 0.0)
    reports: list[str] = []
    kafka_client.wait_listeners.append(reports.append)
    yield reports
    kafka_client.wait_listeners.remove(reports.append)


def failing(times: int, error: Exception) -> tuple[list[float], object]:
    timeouts: list[float] = []

    def attempt(timeout: float) -> str:
        timeouts.append(timeout)
        if len(timeouts) <= times:
            raise error
        return "answered"

    return timeouts, attempt


def test_a_request_is_retried_and_each_wait_reported_until_the_broker_answers(
    fast_backoff: list[str],
) -> None:
    client = ClientConfig("127.0.0.1:9092", "confluent")
    timeouts, attempt = failing(3, KafkaError("Kafka at ... failed while x: Broker transport failure"))
    assert _retrying(client, "reading the offsets of t", attempt) == "answered"  # type: ignore[arg-type]
    assert timeouts == [10.0] * 4  # one attempt: at most 10 s
    assert len(fast_backoff) == 3
    assert all(
        r.startswith("waiting for broker 127.0.0.1:9092: no answer for ")
        and r.endswith("s (brokerTimeout 2m) while reading the offsets of t")
        for r in fast_backoff
    ), fast_backoff


def test_past_broker_timeout_the_wait_fails_in_one_line_naming_the_broker_and_the_limit(
    fast_backoff: list[str],
) -> None:
    client = ClientConfig("127.0.0.1:9092", "kafka-python", {}, timeout_ms=50)
    failure = KafkaError("Kafka at 127.0.0.1:9092 failed while x: KafkaTimeoutError: Unable to bootstrap")
    failure.reason = "KafkaTimeoutError: Unable to bootstrap"  # type: ignore[attr-defined]
    timeouts, attempt = failing(10**9, failure)
    with pytest.raises(BrokerTimeoutError) as raised:
        _retrying(client, "reading the offsets of t", attempt)  # type: ignore[arg-type]
    assert str(raised.value) == (
        "Kafka broker 127.0.0.1:9092 did not answer for 50ms (brokerTimeout) while reading the "
        "offsets of t (client kafka-python: KafkaTimeoutError: Unable to bootstrap); raise "
        "brokerTimeout to wait longer"
    )
    assert raised.value.exit_code == 1
    assert all(t == 1.0 for t in timeouts)  # a short limit: attempts of a second


@pytest.mark.parametrize("error", [KafkaAuthenticationError("refused"), BrokerTimeoutError("gone")])
def test_a_refused_login_is_not_waited_for(fast_backoff: list[str], error: KafkaError) -> None:
    timeouts, attempt = failing(1, error)
    with pytest.raises(type(error)):
        _retrying(ClientConfig("b:9092"), "x", attempt)  # type: ignore[arg-type]
    assert len(timeouts) == 1 and not fast_backoff


def test_a_partition_missing_from_an_answer_stays_where_it_is() -> None:
    reader = FixedOffsets({"t:0": 0}, {"t:0": 9})  # t:1 not in the answer (a broker restarting)
    assert reader.latestOffset({"t:0": 4, "t:1": 7}, None) == {"t:0": 9, "t:1": 7}


def test_an_end_read_lower_than_the_position_never_moves_the_query_back() -> None:
    reader = FixedOffsets({"t:0": 0, "t:1": 0}, {"t:0": 3, "t:1": 12})  # t:0 read low
    assert reader.latestOffset({"t:0": 5, "t:1": 2}, None) == {"t:0": 5, "t:1": 12}


def test_the_live_view_shows_a_wait_as_a_line_or_under_its_table() -> None:
    plain = io.StringIO()
    view = LiveView("job wordcount", plain, live=False)
    kafka_client._report("waiting for broker b:9092: no answer for 10s (brokerTimeout 2m) while x")
    view.stop()
    line = "waiting for broker b:9092: no answer for 10s (brokerTimeout 2m) while x"
    assert plain.getvalue() == f"[sparkkit] {line}\n"
    assert view.note not in kafka_client.wait_listeners

    with LiveView("job wordcount", io.StringIO(), live=True) as live:
        kafka_client._report("waiting for broker b:9092: no answer for 21s (brokerTimeout 2m) while y")
        assert live._display is not None
        assert "waiting for broker b:9092: no answer for 21s" in drawn(live._display.renderable)
        live.update({"query": "wordcount", "batch": 3, "api": "structured"})
        assert "waiting for broker" not in drawn(live._display.renderable)  # a batch: the broker answered


def drawn(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=160)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]
