"""The output contract: json:// and parquet:// sinks hold rows that spark.read reads back, in both APIs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from sparkkit.config import load_config
from sparkkit.runner import run
from sparkkit.sources import generator_lines

SOURCE = "generator://w?rate=200&keys=5&seed=9&count=300"


@pytest.mark.parametrize("api", ["dstream", "structured"])
@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_sink_rows_read_back(spark: SparkSession, tmp_path: Path, api: str, fmt: str) -> None:
    out = tmp_path / "out"
    cli = {
        "api": api,
        "source": [SOURCE],
        "sink": f"{fmt}://{out}",
        "batch_interval": "500ms",
        "duration": "6s",
    }
    config = load_config("wordcount", cli=cli, env={}, conf_dir=tmp_path / "no-conf")
    stats = run(config, spark)
    assert stats.batches > 0
    df = spark.read.format(fmt).load(str(out))
    assert sorted(df.columns) == ["batch_time", "count", "word"]
    assert df.schema["count"].dataType.simpleString() == "bigint"
    totals = {r["word"]: r["total"] for r in df.groupBy("word").sum("count").toDF("word", "total").collect()}
    assert totals == dict(Counter(generator_lines("w", 0, 300, 9, 5)))
    assert df.count() == stats.rows
