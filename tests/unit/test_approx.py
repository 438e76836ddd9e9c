from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from sparkkit.approx import (
    DEFAULT_LG_CONFIG_K,
    Approximated,
    BoundColumn,
    approximate,
    hll_rse,
    top_k_epsilon,
    top_k_max_map_size,
)
from sparkkit.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RSE_12 = "CAST(0.01625 AS DOUBLE)"


def refusal(sql: str, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        approximate(sql, **kwargs)  # type: ignore[arg-type]
    return caught.value


# hll_rse and the sizes Spark picks


def test_hll_rse_is_datasketches_error() -> None:
    assert DEFAULT_LG_CONFIG_K == 12
    assert hll_rse(12) == 1.04 / 64
    assert hll_rse(4) == 0.26
    assert hll_rse(21) == pytest.approx(1.04 / 2**10.5)


@pytest.mark.parametrize(
    ("max_items_tracked", "map_size"),
    [(1, 8), (3, 8), (6, 8), (7, 16), (12, 16), (13, 32), (100, 256), (10000, 16384), (1000000, 2097152)],
)
def test_top_k_map_size_follows_spark(max_items_tracked: int, map_size: int) -> None:
    assert top_k_max_map_size(max_items_tracked) == map_size
    assert top_k_epsilon(max_items_tracked) * map_size == 3.5


# Rule 5: SQL without approximate aggregates passes through


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a, count(*) AS n FROM t GROUP BY a",
        "SELECT count(x) AS n, count(ALL x) m, approx_count_distinct(x) AS d FROM t",
        "SELECT 'count(DISTINCT x)' AS s, \"percentile_approx(x, 0.5)\" AS q FROM t",
        "SELECT x -- count(DISTINCT x)\nFROM t",
        "SELECT /* approx_top_k(x) /* nested */ count(DISTINCT y) */ x FROM t",
        "SELECT `count(DISTINCT x)` AS c, my_count(DISTINCT x) AS m, t.count FROM t",
        r"SELECT 'it\'s count(DISTINCT x)' AS s, r'\' AS r FROM t",
    ],
)
def test_passes_through_unchanged(sql: str) -> None:
    assert approximate(sql) == Approximated(sql=sql, bounds=())


# Rule 1: count(DISTINCT x)


def test_count_distinct_becomes_hll_with_rse_column() -> None:
    result = approximate("SELECT count(DISTINCT user_id) AS users FROM events")
    assert result.sql == (
        f"SELECT hll_sketch_estimate(hll_sketch_agg(user_id, 12)) AS users, {RSE_12} AS users_rse FROM events"
    )
    assert result.bounds == (
        BoundColumn(name="users_rse", estimate="users", kind="rse", meaning=result.bounds[0].meaning),
    )
    assert "users" in result.bounds[0].meaning and "1.625%" in result.bounds[0].meaning


def test_count_distinct_any_case_spacing_and_implicit_alias() -> None:
    result = approximate("select COUNT ( Distinct\n  lower(concat(a, '(', b)) )\n  users\nfrom t")
    assert result.sql == (
        "select hll_sketch_estimate(hll_sketch_agg(lower(concat(a, '(', b)), 12))\n"
        f"  users, {RSE_12} AS users_rse\nfrom t"
    )


def test_lg_config_k_sets_sketch_and_rse() -> None:
    result = approximate("SELECT count(DISTINCT u) AS n FROM t", lg_config_k=14)
    assert result.sql == (
        "SELECT hll_sketch_estimate(hll_sketch_agg(u, 14)) AS n, CAST(0.008125 AS DOUBLE) AS n_rse FROM t"
    )
    assert float("0.008125") == hll_rse(14)


def test_count_distinct_rse_is_repr_of_hll_rse() -> None:
    result = approximate("SELECT count(DISTINCT u) AS n FROM t", lg_config_k=5)
    assert f"CAST({hll_rse(5)!r} AS DOUBLE) AS n_rse" in result.sql
    assert "0.18384776310850234" in result.sql


def test_backquoted_alias_gives_backquoted_bound() -> None:
    result = approximate("SELECT count(DISTINCT u) AS `distinct users` FROM t")
    assert result.sql == (
        "SELECT hll_sketch_estimate(hll_sketch_agg(u, 12)) AS `distinct users`, "
        f"{RSE_12} AS `distinct users_rse` FROM t"
    )
    assert result.bounds[0].name == "distinct users_rse"
    assert result.bounds[0].estimate == "distinct users"


def test_filter_clause_moves_into_the_estimate() -> None:
    result = approximate("SELECT count(DISTINCT u) FILTER (WHERE ok AND (a > 1)) AS n FROM t")
    assert result.sql == (
        "SELECT hll_sketch_estimate(hll_sketch_agg(u, 12) FILTER (WHERE ok AND (a > 1))) AS n, "
        f"{RSE_12} AS n_rse FROM t"
    )


def test_line_comment_ending_the_argument_is_kept_and_closed() -> None:
    result = approximate("SELECT count(DISTINCT u -- the user\n) AS n FROM t")
    assert result.sql == (
        f"SELECT hll_sketch_estimate(hll_sketch_agg(u -- the user\n, 12)) AS n, {RSE_12} AS n_rse FROM t"
    )


def test_count_distinct_of_several_columns_is_refused() -> None:
    error = refusal("SELECT count(DISTINCT a, b) AS pairs FROM t")
    assert error.value == "count(DISTINCT a, b)"
    assert "hll_sketch_agg takes one column" in error.accepted
    assert "to_json(struct(a, b))" in error.accepted and "concat_ws" in error.accepted


# Rule 2: percentile_approx / approx_percentile


def test_percentile_gains_rank_error_of_default_accuracy() -> None:
    result = approximate("SELECT percentile_approx(latency, 0.5) AS p50 FROM t")
    assert result.sql == (
        "SELECT percentile_approx(latency, 0.5) AS p50, CAST(0.0001 AS DOUBLE) AS p50_rank_error FROM t"
    )
    assert result.bounds[0].name == "p50_rank_error" and result.bounds[0].kind == "rank_error"
    assert "10000" in result.bounds[0].meaning


def test_approx_percentile_with_accuracy_and_array() -> None:
    result = approximate("SELECT APPROX_PERCENTILE(lat, array(0.5, 0.99), 100) q FROM t")
    assert result.sql == (
        "SELECT APPROX_PERCENTILE(lat, array(0.5, 0.99), 100) q, CAST(0.01 AS DOUBLE) AS q_rank_error FROM t"
    )


def test_percentile_rank_error_is_repr_of_one_over_accuracy() -> None:
    result = approximate("SELECT percentile_approx(x, 0.9, 3 /* small */) AS p FROM t")
    assert result.sql.endswith(f"AS p, CAST({1 / 3!r} AS DOUBLE) AS p_rank_error FROM t")


@pytest.mark.parametrize("accuracy", ["acc", "100 + 1", "0", "1e4", "-5", "99999999999"])
def test_percentile_accuracy_must_be_a_positive_integer_literal(accuracy: str) -> None:
    error = refusal(f"SELECT percentile_approx(x, 0.5, {accuracy}) AS p FROM t")
    assert error.value == f"percentile_approx(x, 0.5, {accuracy})"
    assert "integer literal" in error.accepted and "1/accuracy" in error.accepted


def test_percentile_needs_two_or_three_arguments() -> None:
    error = refusal("SELECT percentile_approx(x) AS p FROM t")
    assert "percentile_approx(x, p [, accuracy])" in error.accepted


# Rule 3: approx_top_k


def test_top_k_gains_max_error_from_default_map_size() -> None:
    result = approximate("SELECT approx_top_k(item, 3) AS top FROM t")
    assert result.sql == (
        "SELECT approx_top_k(item, 3) AS top, "
        "CAST(floor(0.000213623046875 * count(item)) AS BIGINT) AS top_max_error FROM t"
    )
    bound = result.bounds[0]
    assert (bound.name, bound.estimate, bound.kind) == ("top_max_error", "top", "max_error")
    assert "3.5/16384" in bound.meaning


def test_top_k_max_items_tracked_sets_epsilon_and_filter_is_counted() -> None:
    result = approximate("SELECT approx_top_k(lower(item), 5, 100) FILTER (WHERE ok) top FROM t")
    assert result.sql == (
        "SELECT approx_top_k(lower(item), 5, 100) FILTER (WHERE ok) top, "
        "CAST(floor(0.013671875 * count(lower(item)) FILTER (WHERE ok)) AS BIGINT) AS top_max_error FROM t"
    )


def test_top_k_epsilon_is_written_without_exponent() -> None:
    result = approximate("SELECT approx_top_k(i, 5, 1000000) AS t FROM x")
    assert "floor(0.0000016689300537109375 * count(i))" in result.sql


@pytest.mark.parametrize("max_items", ["m", "0", "1000001", "100L"])
def test_top_k_max_items_tracked_must_be_a_literal_in_range(max_items: str) -> None:
    error = refusal(f"SELECT approx_top_k(i, 5, {max_items}) AS t FROM x")
    assert "maxItemsTracked an integer literal from 1 to 1000000" in error.accepted


# Rule 4: refusals


@pytest.mark.parametrize(
    ("sql", "fragment", "example", "suffix"),
    [
        ("SELECT count(DISTINCT x) FROM t", "count(DISTINCT x)", "count(DISTINCT x) AS name", "name_rse"),
        ("SELECT count(DISTINCT x)\nFROM t", "count(DISTINCT x)", "count(DISTINCT x) AS name", "name_rse"),
        ("SELECT count(DISTINCT x) + 1 AS n FROM t", "count(DISTINCT x)", "count(DISTINCT x)", "name_rse"),
        (
            "SELECT round(percentile_approx(x, 0.5), 1) AS p FROM t",
            "percentile_approx(x, 0.5)",
            "percentile_approx(x, p) AS name",
            "name_rank_error",
        ),
        (
            "SELECT approx_top_k(x), a FROM t",
            "approx_top_k(x)",
            "approx_top_k(x, k) AS name",
            "name_max_error",
        ),
        ("SELECT a, count(DISTINCT x) AS FROM t", "count(DISTINCT x)", "count(DISTINCT x)", "name_rse"),
    ],
)
def test_approximate_aggregate_without_alias_is_refused(
    sql: str, fragment: str, example: str, suffix: str
) -> None:
    error = refusal(sql, option="[queries.q] sql")
    assert error.option == "[queries.q] sql"
    assert error.value == fragment
    assert "with approx = true each approximate aggregate needs an alias" in error.accepted
    assert example in error.accepted and suffix in error.accepted
    assert str(error).startswith(f"[queries.q] sql={fragment}: ")


def test_refusal_message_for_count_distinct_is_the_documented_one() -> None:
    error = refusal("SELECT count(DISTINCT x) FROM t")
    assert error.accepted == (
        "count(DISTINCT x) AS name: with approx = true each approximate aggregate needs an alias, "
        "which names its bound column name_rse"
    )


@pytest.mark.parametrize("lg_config_k", [3, 22, 0, -1, True, "12", 12.0, None])
def test_bad_lg_config_k_is_refused(lg_config_k: object) -> None:
    error = refusal("SELECT 1", lg_config_k=lg_config_k)
    assert error.value == lg_config_k
    assert "an integer from 4 to 21" in error.accepted


def test_window_nested_distinct_and_duplicate_bounds_are_refused() -> None:
    window = refusal("SELECT count(DISTINCT x) OVER (PARTITION BY y) AS n FROM t")
    assert (
        window.accepted.startswith("count(DISTINCT x) AS name without OVER") and "window" in window.accepted
    )
    assert "one inside another" in refusal("SELECT approx_top_k(count(DISTINCT x)) AS n FROM t").accepted
    assert "without DISTINCT" in refusal("SELECT percentile_approx(DISTINCT x, 0.5) AS p FROM t").accepted
    duplicate = refusal("SELECT count(DISTINCT x) AS n, count(DISTINCT y) AS N FROM t")
    assert "two would have bound column N_rse" in duplicate.accepted
    assert "balanced" in refusal("SELECT count(DISTINCT x AS n FROM t").accepted


# Several aggregates; everything else kept byte for byte

TRICKY = """\
SELECT window.start,  -- count(DISTINCT page) per window
       COUNT(DISTINCT session_id) AS sessions, /* percentile_approx(x, 0.5) */
       'count(DISTINCT x) AS y' AS note,
       percentile_approx(latency_ms, 0.95, 500) AS `p95 ms`,
       approx_top_k(page) pages
FROM clicks
GROUP BY window(ts, '1 minute')"""


def test_several_aggregates_in_one_select() -> None:
    result = approximate(TRICKY)
    assert (
        result.sql
        == """\
SELECT window.start,  -- count(DISTINCT page) per window
       hll_sketch_estimate(hll_sketch_agg(session_id, 12)) AS sessions, CAST(0.01625 AS DOUBLE) AS \
sessions_rse, /* percentile_approx(x, 0.5) */
       'count(DISTINCT x) AS y' AS note,
       percentile_approx(latency_ms, 0.95, 500) AS `p95 ms`, CAST(0.002 AS DOUBLE) AS `p95 ms_rank_error`,
       approx_top_k(page) pages, CAST(floor(0.000213623046875 * count(page)) AS BIGINT) AS pages_max_error
FROM clicks
GROUP BY window(ts, '1 minute')"""
    )
    assert [(b.name, b.estimate, b.kind) for b in result.bounds] == [
        ("sessions_rse", "sessions", "rse"),
        ("p95 ms_rank_error", "p95 ms", "rank_error"),
        ("pages_max_error", "pages", "max_error"),
    ]
    assert all(b.meaning.endswith(".") and b.estimate in b.meaning for b in result.bounds)


def test_text_outside_the_aggregates_is_kept() -> None:
    result = approximate(TRICKY)
    kept = result.sql
    for bound in (
        ", CAST(0.01625 AS DOUBLE) AS sessions_rse",
        ", CAST(0.002 AS DOUBLE) AS `p95 ms_rank_error`",
        ", CAST(floor(0.000213623046875 * count(page)) AS BIGINT) AS pages_max_error",
    ):
        kept = kept.replace(bound, "", 1)
    kept = kept.replace("hll_sketch_estimate(hll_sketch_agg(session_id, 12))", "COUNT(DISTINCT session_id)")
    assert kept == TRICKY


# One fast batch check that Spark runs the rewritten SQL


@pytest.fixture(scope="module")
def spark_session() -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:  # the plugin's session fixture started one: share it, leave it running
        yield active
        return
    session = (
        SparkSession.builder.master("local[1]")
        .appName("sparkkit-test-approx")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_runs_the_rewritten_sql(spark_session: SparkSession) -> None:
    rows = [(i % 3, i % 200, f"item{i % 7 if i % 5 else i}", float(i)) for i in range(3000)]
    spark_session.createDataFrame(rows, "g int, u int, item string, lat double").createOrReplaceTempView(
        "approx_events"
    )
    result = approximate(
        "SELECT g, count(DISTINCT u) AS users, percentile_approx(lat, 0.5, 100) AS `median lat`, "
        "approx_top_k(item, 3, 20) AS top FROM approx_events GROUP BY g ORDER BY g"
    )
    exact = Counter((g, item) for g, _, item, _ in rows)
    output = spark_session.sql(result.sql).collect()
    assert [row["g"] for row in output] == [0, 1, 2]
    for row in output:
        assert row["users_rse"] == hll_rse(12)
        assert row["median lat_rank_error"] == 0.01
        assert abs(row["users"] - 200) <= 3 * hll_rse(12) * 200
        assert row["top_max_error"] == 1000 * 7 // (2 * top_k_max_map_size(20))
        for entry in row["top"]:
            assert 0 <= entry["count"] - exact[(row["g"], entry["item"])] <= row["top_max_error"]


@pytest.mark.parametrize("lg_config_k", [4, 10, 12, 16, 21])
def test_stated_hll_bound_is_the_librarys_and_never_optimistic(
    spark_session: SparkSession, lg_config_k: int
) -> None:
    """DataSketches (the jar Spark runs) states HLL's relative error; ours is its documented 1.04/sqrt(K),
    which is at least what the library computes for a merged sketch, 1 standard deviation."""
    jvm = spark_session.sparkContext._jvm
    assert jvm is not None
    library = jvm.org.apache.datasketches.hll.HllSketch
    merged = max(library.getRelErr(upper, True, lg_config_k, 1) for upper in (True, False))
    assert hll_rse(lg_config_k) == 1.04 / math.sqrt(2**lg_config_k)
    assert merged <= hll_rse(lg_config_k) * 1.01
    assert merged >= hll_rse(lg_config_k) * 0.6  # the same order: not a bound off by a factor


@pytest.mark.parametrize("max_items_tracked", [3, 5, 100, 10000, 1_000_000])
def test_stated_top_k_bound_is_the_librarys(spark_session: SparkSession, max_items_tracked: int) -> None:
    """The frequent-items sketch's own a-priori epsilon for the map size Spark gives it."""
    jvm = spark_session.sparkContext._jvm
    assert jvm is not None
    items = jvm.org.apache.datasketches.frequencies.ItemsSketch
    map_size = top_k_max_map_size(max_items_tracked)
    assert float(top_k_epsilon(max_items_tracked)) == items.getEpsilon(map_size)
