"""wordcount on real sources in both APIs: a TCP socket server, a file directory, the generator."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from sparkkit.sources import generator_lines
from sparkkit.testing import LineServer, Rows, StreamHarness

APIS = ["dstream", "structured"]


def totals(rows: Rows) -> Counter[str]:
    """Each word's total over all batches: the sum of its per-batch counts."""
    counts: Counter[str] = Counter()
    for row in rows:
        counts[row["word"]] += row["count"]
    return counts


def expect(lines: list[str]) -> Counter[str]:
    return Counter(word for line in lines for word in line.split())


def reaches(expected: Counter[str]) -> Callable[[Rows], bool]:
    return lambda rows: sum(totals(rows).values()) >= sum(expected.values())


SOCKET_LINES = [f"line {i} alpha beta{' gamma' * (i % 3)}" for i in range(200)]


@pytest.mark.parametrize("api", APIS)
def test_socket_counts_exactly(stream_harness: StreamHarness, line_server: LineServer, api: str) -> None:
    line_server.send(SOCKET_LINES)
    rows = stream_harness.run_live(
        "wordcount", [line_server.address], until=reaches(expect(SOCKET_LINES)), api=api
    )
    assert totals(rows) == expect(SOCKET_LINES)


def write_atomically(
    directory: Path, name: str, lines: list[str], staging: Path, mtime: float | None = None
) -> None:
    """Write elsewhere, then rename into the watched directory, as file sources require."""
    tmp = staging / name
    tmp.write_text("".join(line + "\n" for line in lines))
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, directory / name)


@pytest.mark.parametrize("api", APIS)
def test_files_existing_and_moved_in_are_each_counted_once(
    stream_harness: StreamHarness, tmp_path: Path, api: str
) -> None:
    watched, staging = tmp_path / "in", tmp_path / "staging"
    watched.mkdir()
    staging.mkdir()
    existing = [["already here", "before the start"], ["here too"]]
    arriving = [["moved in while running", "here"], ["old mtime file"], ["last one", "last"]]
    for i, lines in enumerate(existing):
        write_atomically(watched, f"existing-{i}.txt", lines, staging)
    (watched / ".hidden.txt").write_text("ignored hidden\n")
    (watched / "_ignored.txt").write_text("ignored underscore\n")

    def drop_files() -> None:
        for i, lines in enumerate(arriving):
            write_atomically(watched, f"arriving-{i}.txt", lines, staging, mtime=1e9 if i == 1 else None)

    everything = [line for lines in existing + arriving for line in lines]
    rows = stream_harness.run_live(
        "wordcount",
        [f"file://{watched}?format=text"],
        until=reaches(expect(everything)),
        api=api,
        during=drop_files,
    )
    assert totals(rows) == expect(everything)


@pytest.mark.parametrize("api", APIS)
def test_generators_at_different_rates_are_deterministic(stream_harness: StreamHarness, api: str) -> None:
    sources = [
        "generator://fast?rate=400&keys=7&seed=3&count=600",
        "generator://slow?rate=50&keys=3&count=40",
    ]
    expected = expect(generator_lines("fast", 0, 600, 3, 7) + generator_lines("slow", 0, 40, 0, 3))
    rows = stream_harness.run_live("wordcount", sources, until=reaches(expected), api=api)
    assert totals(rows) == expected
