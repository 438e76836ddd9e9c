from __future__ import annotations

import os

import pytest

from sparkkit.addresses import parse_sink, parse_source
from sparkkit.errors import AddressError


def test_socket() -> None:
    a = parse_source("socket://localhost:9999")
    assert (a.scheme, a.host, a.port) == ("socket", "localhost", 9999)


def test_file_defaults_to_text_and_keeps_options() -> None:
    a = parse_source("file:///data/in?format=csv&header=true")
    assert (a.path, a.params) == ("/data/in", {"format": "csv", "header": "true"})
    assert parse_source("file:///data/in").params["format"] == "text"


def test_relative_file_path_is_made_absolute() -> None:
    assert parse_source("file://data/in").path == os.path.abspath("data/in")


def test_kafka_hosts_and_topics() -> None:
    a = parse_source("kafka://b1:9092,b2:9093/clicks,views?startingOffsets=earliest")
    assert a.hosts == (("b1", 9092), ("b2", 9093))
    assert a.path == "clicks,views"
    assert a.params == {"startingOffsets": "earliest"}


def test_generator() -> None:
    a = parse_source("generator://clicks?rate=100&keys=20&seed=3")
    assert (a.path, a.params) == ("clicks", {"rate": "100", "keys": "20", "seed": "3"})


def test_sinks() -> None:
    assert parse_sink("console://").scheme == "console"
    assert parse_sink("json:///out").path == "/out"
    assert parse_sink("parquet:///out").scheme == "parquet"
    assert parse_sink("memory://counts").path == "counts"
    assert parse_sink("kafka://b:9092/out").path == "out"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("localhost:9999", "expected an address"),
        ("http://x", "unknown scheme 'http'"),
        ("socket://localhost", "HOST:PORT"),
        ("socket://localhost:99999", "port 1-65535"),
        ("file:///in?format=xml", "format must be one of text, json, csv"),
        ("kafka://b:9092", "TOPIC"),
        ("generator://", "generator://NAME"),
        ("file:///in?format=text&format=json", "given twice"),
    ],
)
def test_bad_sources_name_option_and_accepted_form(text: str, fragment: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_source(text)
    assert info.value.option == "--source"
    assert fragment in str(info.value)


@pytest.mark.parametrize("text", ["memory://not-a-name", "kafka://b:9092/a,b", "socket://h:1"])
def test_bad_sinks(text: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_sink(text)
    assert info.value.option == "--sink"
