"""Showing metrics records: one line per batch, the table of the latest batch per query, status."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sparkkit.liveview import (
    MISSING,
    LiveView,
    human_bytes,
    metrics_line,
    metrics_table,
    print_status,
    status_text,
)
from sparkkit.metrics import METRICS_FILE, MetricsLog, dstream_record, structured_record
from tests.captures import LATEST, captured


def windowed() -> dict[str, Any]:
    counts = {"rows_written": 1, "dead_letters": 2, "archived": 1000}
    return structured_record(captured("kafka_windowed_counts"), "page_views", counts, LATEST)


def stateless() -> dict[str, Any]:
    return structured_record(captured("kafka_foreach_batch"), "lines")


def dstream() -> dict[str, Any]:
    return dstream_record("wordcount", 1_764_079_717_000, 2000, 1250, 12)


def rendered(table: Table) -> str:
    console = Console(file=io.StringIO(), width=160)
    console.print(table)
    text = console.file.getvalue()
    assert isinstance(text, str)
    return text


def test_a_line_per_record_leaves_out_what_is_unknown() -> None:
    assert metrics_line(windowed()) == (
        "[sparkkit] page_views batch 1: 1000 rows in (159.3/s), 910.7/s processed, 1.10 s, "
        "state 1 rows 1.3 KiB, watermark 14:07:58, lag 571, 1000 archived, 2 dead letters"
    )
    assert metrics_line(stateless()) == (
        "[sparkkit] lines batch 1: 2000 rows in (465.7/s), 3527.3/s processed, 0.57 s"
    )
    assert (
        metrics_line(dstream())
        == "[sparkkit] wordcount batch 14:08:37: 2000 rows in, 1600.0/s processed, 1.25 s"
    )
    assert metrics_line({"query": "q", "batch": 3}) == "[sparkkit] q batch 3"


def test_sizes_in_binary_units() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1328, 1_258_291, 3 * 2**30)] == [
        "0 B", "1023 B", "1.3 KiB", "1.2 MiB", "3.0 GiB",
    ]  # fmt: skip


def test_the_table_has_a_row_per_query_and_the_counts_in_its_caption() -> None:
    text = rendered(
        metrics_table({"page_views": windowed(), "lines": stateless(), "wordcount": dstream()}, "run x")
    )
    lines = text.splitlines()
    assert "run x" in lines[0]
    row = next(line for line in lines if "page_views" in line)
    for value in ("1", "159.3", "910.7", "1.10", "1.3 KiB", "14:07:58", "571"):
        assert f" {value} " in row
    row = next(line for line in lines if "│ lines" in line)
    for value in ("465.7", "3527.3", "0.57"):
        assert f" {value} " in row
    assert row.count(MISSING) == 4  # state rows, state memory, watermark, lag
    row = next(line for line in lines if "│ wordcount" in line)
    assert " 14:08:37 " in row and " 1600.0 " in row and row.count(MISSING) == 5
    assert "page_views: 1000 archived, 2 dead letters" in text
    assert "lines:" not in text


def test_without_live_each_update_prints_its_line() -> None:
    out = io.StringIO()
    with LiveView("run", out) as view:  # a StringIO is no terminal
        assert not view.live
        view.update(windowed())
        view.update(stateless())
    view.update(dstream())  # stopped: nothing more
    assert out.getvalue().splitlines() == [metrics_line(windowed()), metrics_line(stateless())]


def test_updates_from_two_threads_print_whole_lines() -> None:
    out = io.StringIO()
    view = LiveView("run", out, live=False)
    record = windowed()

    def update(query: str) -> None:
        for _ in range(200):
            view.update({**record, "query": query})

    threads = [threading.Thread(target=update, args=(q,)) for q in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert sorted(set(lines)) == sorted(metrics_line({**record, "query": q}) for q in ("a", "b"))
    assert len(lines) == 400


def test_a_live_view_redraws_the_table_and_leaves_the_last_one() -> None:
    out = io.StringIO()
    view = LiveView("run", out, live=True)
    view.update(stateless())
    view.update(windowed())
    later = {**windowed(), "batch": 2, "kafka_lag": 7}
    view.update(later)
    view.stop()
    view.stop()
    text = out.getvalue()  # off a terminal rich draws the final table once, at the stop
    assert text.count("┏") == 1
    row = next(line for line in text.splitlines() if "│ page_views" in line).split("│")
    assert (row[2].strip(), row[-2].strip()) == ("2", "7")
    assert "│ lines" in text
    assert view.latest["page_views"]["batch"] == 2


def test_a_live_view_that_never_drew_stops_quietly() -> None:
    out = io.StringIO()
    with LiveView("run", out, live=True):
        pass
    assert out.getvalue() == ""


def test_status_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    assert (
        status_text(tmp_path / "metrics.jsonl", False, "x")
        == f"no metrics found at {tmp_path / 'metrics.jsonl'}"
    )


def test_status_shows_the_latest_batch_of_each_query_and_whether_it_runs(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        log.append(stateless())
        log.append({**windowed(), "batch": 0})
        log.append(windowed())
    running = status_text(path, True, "pipeline p")
    assert isinstance(running, Table)
    text = rendered(running)
    assert "running" in text and "not running" not in text
    assert "page_views: 1000 archived, 2 dead letters" in text
    row = next(line for line in text.splitlines() if "│ page_views" in line)
    assert row.split("│")[2].strip() == "1"  # the newest batch of page_views
    stopped = status_text(path, False, "pipeline p")
    assert isinstance(stopped, Table)
    assert "not running (last batch at 2026-11-25 14:10:22 UTC)" in rendered(stopped)


def test_print_status_finds_the_only_metrics_file_under_the_root(tmp_path: Path) -> None:
    with MetricsLog(tmp_path / "p" / METRICS_FILE) as log:
        log.append(windowed())
    out = io.StringIO()
    assert print_status(tmp_path, None, out) == 0
    assert "page_views" in out.getvalue() and "not running" in out.getvalue()
    out = io.StringIO()
    assert print_status(tmp_path, "other", out) == 2
    assert out.getvalue() == f"no metrics found at {tmp_path / 'other' / METRICS_FILE}\n"
