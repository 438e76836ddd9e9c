"""The pipeline file is checked before Spark starts: each mistake names its key, value and what
is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkkit.cli import main
from sparkkit.errors import ConfigError
from sparkkit.pipeline import GENERATOR_JSON_SCHEMA, ddl_names, load_pipeline, streams_in

GOOD = """
[pipeline]
name = "shop"
batch_interval = "1s"

[streams.clicks]
source = "file:///tmp/clicks?format=json"
schema = "user STRING, page STRING, ts TIMESTAMP"
event_time = "ts"
watermark = "10s"
working = "5m"

[streams.lines]
source = "generator://lines?rate=10"
working = "100 rows"

[queries.page_views]
sql = "SELECT page, count(*) AS views FROM clicks GROUP BY page"
mode = "update"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return path


def test_a_good_file_reads_into_streams_and_queries(tmp_path: Path) -> None:
    pipeline = load_pipeline(write(tmp_path, GOOD))
    assert pipeline.name == "shop" and pipeline.batch_interval.ms == 1000
    clicks = pipeline.streams["clicks"]
    assert clicks.columns == ["user", "page", "ts"] and clicks.archive and str(clicks.working) == "5m"
    assert "schema=" in clicks.source.address.raw  # readers get the schema
    assert str(pipeline.streams["lines"].working) == "100 rows"
    query = pipeline.queries["page_views"]
    assert query.streams == ("clicks",) and query.mode == "update"
    assert query.output.address.raw == "memory://page_views" and query.batch_interval.ms == 1000


def test_the_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    assert load_pipeline(write(tmp_path, GOOD.replace('name = "shop"\n', ""))).name == "p"


@pytest.mark.parametrize(
    ("change", "option", "accepted"),
    [
        (('watermark = "10s"', 'watermark = "soon"'), "[streams.clicks] watermark", "a duration"),
        (('event_time = "ts"\n', ""), "[streams.clicks] watermark", "set with event_time"),
        (
            ('event_time = "ts"', 'event_time = "when"'),
            "[streams.clicks] event_time",
            "user, page, ts, arrival_time",
        ),
        (('working = "5m"', 'working = "lots"'), "[streams.clicks] working", "a number of rows"),
        (('mode = "update"', 'mode = "upsert"'), "[queries.page_views] mode", "append | update | complete"),
        (
            ('schema = "user STRING, page STRING, ts TIMESTAMP"\n', ""),
            "[streams.clicks] schema",
            "a DDL schema",
        ),
        (
            ('schema = "user STRING', 'schema = "origin STRING'),
            "[streams.clicks] schema",
            "no column named origin",
        ),
        (("[queries.page_views]", "[queries.archive]"), "[queries.archive]", "a name other than archive"),
        (("[queries.page_views]", "[queries.clicks]"), "[queries.clicks]", "a name no stream has"),
        (("[queries.page_views]", "[queries.page-views]"), "[queries.page-views]", "letters, digits and _"),
        (("FROM clicks", "FROM nowhere"), "[queries.page_views] sql", "reads at least one of the streams"),
        (
            ('source = "file:///tmp/clicks', 'source = "ftp:///tmp/clicks'),
            "[streams.clicks] source",
            "unknown scheme",
        ),
        (('batch_interval = "1s"', 'batch_interval = "0s"'), "[pipeline] batch_interval", "above 0"),
    ],
)
def test_mistakes_are_refused_naming_the_key(
    tmp_path: Path, change: tuple[str, str], option: str, accepted: str
) -> None:
    assert change[0] in GOOD
    with pytest.raises(ConfigError) as refused:
        load_pipeline(write(tmp_path, GOOD.replace(*change)))
    assert refused.value.option == option
    assert accepted in refused.value.accepted
    assert refused.value.exit_code == 2


def test_two_queries_may_not_share_an_output(tmp_path: Path) -> None:
    text = GOOD + '\n[queries.again]\nsql = "SELECT user FROM clicks"\noutput = "memory://page_views"\n'
    with pytest.raises(ConfigError, match=r"\[queries.again\] output=memory://page_views .*query page_views"):
        load_pipeline(write(tmp_path, text))
    text = GOOD + '\n[queries.again]\nsql = "SELECT user FROM clicks"\noutput = "memory://lines"\n'
    with pytest.raises(ConfigError, match="stream lines's working storage"):
        load_pipeline(write(tmp_path, text))


def test_event_time_must_be_a_timestamp(tmp_path: Path) -> None:
    text = GOOD.replace("ts TIMESTAMP", "ts STRING")
    with pytest.raises(ConfigError, match=r"a TIMESTAMP column \(ts is STRING\)"):
        load_pipeline(write(tmp_path, text))


def test_a_complete_memory_output_keeps_one_batch(tmp_path: Path) -> None:
    pipeline = load_pipeline(write(tmp_path, GOOD.replace('mode = "update"', 'mode = "complete"')))
    assert pipeline.queries["page_views"].output.address.raw == "memory://page_views?keep=1"


def test_unknown_keys_suggest_the_closest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[streams.clicks\] watermrk .*did you mean watermark"):
        load_pipeline(write(tmp_path, GOOD.replace("watermark =", "watermrk =")))


def test_a_socket_stream_must_be_archived(tmp_path: Path) -> None:
    text = GOOD.replace(
        'source = "generator://lines?rate=10"', 'source = "socket://localhost:9999"\narchive = false'
    )
    with pytest.raises(ConfigError, match="cannot be replayed"):
        load_pipeline(write(tmp_path, text))


def test_a_json_generator_has_its_own_schema(tmp_path: Path) -> None:
    text = GOOD.replace('"generator://lines?rate=10"', '"generator://lines?rate=10&format=json"')
    assert load_pipeline(write(tmp_path, text)).streams["lines"].columns == ddl_names(GENERATOR_JSON_SCHEMA)


def test_ddl_names_and_streams_in() -> None:
    assert ddl_names("a STRING, b STRUCT<x: INT, y: MAP<STRING, INT>>, `c d` INT") == ["a", "b", "c d"]
    assert streams_in("SELECT * FROM clicks c JOIN buys b ON c.x = b.x", ["clicks", "buys", "other"]) == (
        "clicks",
        "buys",
    )
    assert streams_in("SELECT 'clicks' AS name, t.clicks FROM other", ["clicks", "other"]) == ("other",)


def test_run_streams_refuses_the_dstream_api(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "streams", "--api", "dstream"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sparkkit: error: --api=dstream: structured")
    assert "windowed_counts" in err


def test_run_streams_refuses_a_bad_pipeline_before_spark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace('mode = "update"', 'mode = "upsert"'))
    assert main(["run", "streams", "--pipeline", str(path), "--checkpoint", str(tmp_path / "ck")]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"sparkkit: error: [queries.page_views] mode=upsert (from {path}): append | update | complete\n"
    )
    assert not (tmp_path / "ck").exists()


def test_the_default_pipeline_is_valid() -> None:
    from sparkkit.pipeline import default_pipeline

    pipeline = load_pipeline(default_pipeline())
    assert set(pipeline.streams) == {"views", "clicks", "payments"}
    assert pipeline.queries["paid_clicks"].streams == ("clicks", "payments")
