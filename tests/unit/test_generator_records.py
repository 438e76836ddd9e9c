"""The generator's records without Spark: keys, values, event times, options and the origin log."""

from __future__ import annotations

import json
import pickle
from collections import Counter
from pathlib import Path

import pytest

from sparkkit.config import load_config
from sparkkit.duration import Duration
from sparkkit.errors import CheckpointError, ConfigError
from sparkkit.jobs import get_job
from sparkkit.runner import prepare
from sparkkit.sources import GeneratorSource, SourceContext, generator_records, generator_value, source_for
from sparkkit.sources.generator import (
    MAX_START_MS,
    _dstream_record,
    _GeneratorPlan,
    generator_key,
    generator_lines,
    iso_millis,
)

START = 1_795_600_800_000  # 2026-11-25T10:00:00Z


def test_records_are_deterministic_for_a_seed_and_differ_between_seeds() -> None:
    first = generator_records("clicks", 0, 500, 7, 13, 100, START)
    assert first == generator_records("clicks", 0, 500, 7, 13, 100, START)
    assert (
        generator_records("clicks", 200, 300, 7, 13, 100, START) == first[200:300]
    )  # any slice, same records
    other = generator_records("clicks", 0, 500, 8, 13, 100, START)
    assert [r["key"] for r in other] != [r["key"] for r in first]
    assert [r["value"] for r in other] != [r["value"] for r in first]
    assert [r["seq"] for r in first] == list(range(500))
    assert all(set(r) == {"key", "seq", "value", "ts"} for r in first)


def test_values_are_in_range_with_two_decimals_and_spread() -> None:
    values = [r["value"] for r in generator_records("v", 0, 5000, 3, 5, 10, 0)]
    assert all(isinstance(v, float) and 0.0 <= v < 100.0 for v in values)
    assert all(v == round(v * 100) / 100 for v in values)  # exactly n / 100 for a whole n
    assert len(set(values)) > 2500
    deciles = Counter(int(v // 10) for v in values)
    assert sorted(deciles) == list(range(10)) and all(400 <= n <= 600 for n in deciles.values())
    assert min(values) < 1.0 and max(values) > 99.0
    assert values == [generator_value(i, 3) for i in range(5000)]
    assert generator_value(0, -5) == generator_value(0, -5) and 0 <= generator_value(10**12, 10**20) < 100


def test_event_times_are_the_due_times_from_the_origin() -> None:
    records = generator_records("t", 0, 7, 0, 4, 3, START)
    assert [r["ts"] for r in records] == [START + d for d in (0, 333, 666, 1000, 1333, 1666, 2000)]
    fast = generator_records("t", 0, 2000, 0, 4, 1000, START)
    assert [r["ts"] - START for r in fast] == list(range(2000))  # 1000/s: one per millisecond
    slow = generator_records("t", 5, 8, 0, 4, 1, 0)
    assert [r["ts"] for r in slow] == [5000, 6000, 7000]
    assert all(isinstance(r["ts"], int) for r in records)


def test_prefix_names_the_keys_and_defaults_to_the_stream_name() -> None:
    named = generator_records("clicks", 0, 300, 2, 6, 50, START)
    prefixed = generator_records("clicks", 0, 300, 2, 6, 50, START, prefix="user")
    assert [r["key"] for r in named] == generator_lines("clicks", 0, 300, 2, 6)
    assert [r["key"] for r in prefixed] == [f"user-{generator_key(i, 2, 6)}" for i in range(300)]
    assert {r["key"] for r in prefixed} == {f"user-{k}" for k in range(6)}
    assert [r["value"] for r in named] == [r["value"] for r in prefixed]


def test_dstream_records_carry_ts_as_iso_utc_with_milliseconds() -> None:
    assert iso_millis(START + 123) == "2026-11-25T10:00:00.123Z"
    assert iso_millis(0) == "1970-01-01T00:00:00.000Z"
    assert iso_millis(MAX_START_MS) == "9999-12-31T23:59:59.999Z"
    expected = generator_records("d", 40, 41, 1, 3, 7, START, prefix="p")[0]
    assert _dstream_record("p", 1, 3, 7, START, 40) == {**expected, "ts": iso_millis(expected["ts"])}


def test_address_options_are_read_with_defaults() -> None:
    plain = GeneratorSource(source_for("generator://clicks?rate=5").address)
    plain.check()
    assert (plain.record_format, plain.prefix, plain.start) == ("text", "clicks", None)
    full = source_for(f"generator://clicks?rate=5&format=json&prefix=user&start={START}&count=3")
    assert isinstance(full, GeneratorSource)
    full.check()
    assert (full.record_format, full.prefix, full.start, full.count) == ("json", "user", START, 3)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("format=xml", "format must be text or json"),
        ("format=", "format must be text or json"),
        ("format=JSON", "format must be text or json"),
        ("prefix=", "prefix must be a non-empty word"),
        ("prefix=two%20words", "prefix must be a non-empty word"),
        ("start=-1", "start must be a whole number of milliseconds"),
        ("start=soon", "start must be a whole number of milliseconds"),
        ("start=1.5", "start must be a whole number of milliseconds"),
        (f"start={MAX_START_MS + 1}", "start must be a whole number of milliseconds"),
        ("rate=0", "rate must be"),
        ("origin=5", "unknown option 'origin'; accepted: rate, keys, seed, count, format, prefix, start"),
    ],
)
def test_bad_options_are_refused_naming_the_option(query: str, named: str) -> None:
    address = f"generator://g?{query}"
    with pytest.raises(ConfigError) as caught:
        source_for(address).check()
    assert caught.value.exit_code == 2
    assert caught.value.option == "--source"
    assert caught.value.value == address
    assert named in str(caught.value)


def _prepare(tmp_path: Path, job: str, source: str, **options: str) -> None:
    job_obj = get_job(job)
    cli = {"source": [source], "sink": "memory://out", "checkpoint": str(tmp_path / "ck"), **options}
    prepare(load_config(job, job_obj.options, cli, env={}, conf_dir=tmp_path / "no-conf"))


def test_jobs_check_the_generator_record_format(tmp_path: Path) -> None:
    json_source = f"generator://g?format=json&start={START}"
    _prepare(tmp_path, "running_counts", json_source, key="key")
    _prepare(tmp_path, "windowed_counts", json_source, key="key", event_time="ts", window="2s")
    with pytest.raises(ConfigError) as no_key:
        _prepare(tmp_path, "windowed_counts", json_source, window="2s")
    assert no_key.value.option == "--key"
    with pytest.raises(ConfigError) as text_only:
        _prepare(tmp_path, "wordcount", json_source)
    assert text_only.value.option == "--source" and "this source gives json" in str(text_only.value)
    with pytest.raises(ConfigError) as event_time_on_text:
        _prepare(tmp_path, "windowed_counts", "generator://g", window="2s", event_time="ts")
    assert event_time_on_text.value.option == "--event-time"


def test_structured_origin_is_start_or_logged_at_the_first_start(tmp_path: Path) -> None:
    ctx = SourceContext(tmp_path, Duration.parse("500ms"))
    given = GeneratorSource(source_for(f"generator://g?format=json&start={START}").address)
    assert given.origin_ms(ctx) == START
    assert not (tmp_path / given.name).exists()  # nothing to log: start wins
    logged = GeneratorSource(source_for("generator://g?format=json").address)
    origin = logged.origin_ms(ctx)
    path = tmp_path / logged.name / "origin.json"
    assert json.loads(path.read_text()) == {"origin_ms": origin}
    assert logged.origin_ms(ctx) == origin  # a restart on the same checkpoint keeps it
    path.write_text("{}")
    with pytest.raises(CheckpointError, match="unreadable"):
        logged.origin_ms(ctx)


def test_a_plan_pickled_before_the_new_options_still_makes_text_lines(tmp_path: Path) -> None:
    plan = _GeneratorPlan("g", 10, 4, 1, None, 500, str(tmp_path / "o.json"))
    for name in ("fmt", "prefix", "start"):
        del plan.__dict__[name]  # as an older sparkkit pickled it into a DStream checkpoint
    restored = pickle.loads(pickle.dumps(plan))
    assert (restored.fmt, restored.prefix, restored.start) == ("text", None, None)
