"""Driver-side planning without Spark: the file planner's log and the generator's schedule."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from sparkkit.errors import CheckpointError
from sparkkit.sources.files import DirectoryPlanner
from sparkkit.sources.generator import _GeneratorPlan, generator_key, generator_lines


@pytest.fixture
def watched(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    return path


def test_each_file_is_planned_once_and_replayed_after_a_restart(watched: Path, tmp_path: Path) -> None:
    log = tmp_path / "plans.jsonl"
    (watched / "a.txt").write_text("a\n")
    (watched / ".hidden").write_text("x\n")
    planner = DirectoryPlanner(str(watched), str(log))
    assert planner.files_for(1000) == [str(watched / "a.txt")]
    (watched / "b.txt").write_text("b\n")
    assert planner.files_for(2000) == [str(watched / "b.txt")]
    assert planner.files_for(3000) == []
    restarted = DirectoryPlanner(str(watched), str(log))  # as unpickled from the checkpoint
    assert restarted.files_for(2000) == [str(watched / "b.txt")]  # a re-run batch reads the same file
    assert restarted.files_for(4000) == []


def test_a_torn_last_line_is_cut_off_and_never_swallows_the_next_plan(watched: Path, tmp_path: Path) -> None:
    log = tmp_path / "plans.jsonl"
    (watched / "a.txt").write_text("a\n")
    DirectoryPlanner(str(watched), str(log)).files_for(1000)
    with open(log, "a") as fh:
        fh.write('{"batch": 2000, "fil')  # the driver died mid-append: batch 2000 never ran
    (watched / "b.txt").write_text("b\n")
    assert DirectoryPlanner(str(watched), str(log)).files_for(3000) == [str(watched / "b.txt")]
    (watched / "c.txt").write_text("c\n")
    assert DirectoryPlanner(str(watched), str(log)).files_for(4000) == [str(watched / "c.txt")]
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["batch"] for e in entries] == [1000, 3000, 4000]


def test_max_files_and_pattern_names(
    watched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("1.txt", "2.txt", "3.txt", "re[port].txt", "u:v.txt"):
        (watched / name).write_text("x\n")
    planner = DirectoryPlanner(str(watched), str(tmp_path / "plans.jsonl"), max_files=2)
    assert [Path(f).name for f in planner.files_for(1000)] == ["1.txt", "2.txt"]
    assert "not reading" in capsys.readouterr().err  # Hadoop cannot open a name with ':'
    assert [Path(f).name for f in planner.files_for(2000)] == ["3.txt", "re[port].txt"]  # glob syntax: read
    assert planner.files_for(3000) == []


def test_generator_batches_partition_the_stream(tmp_path: Path) -> None:
    plan = _GeneratorPlan(
        "g", rate=30, keys=4, seed=1, count=100, interval_ms=500, start_path=str(tmp_path / "o.json")
    )
    origin = plan._origin(10_500)
    assert origin == 10_000
    bounds = [(plan.due(t - 500, origin), plan.due(t, origin)) for t in range(10_500, 16_000, 500)]
    assert bounds[0] == (0, 15)
    assert all(a[1] == b[0] for a, b in pairwise(bounds))  # no gap, no overlap
    assert bounds[-1][1] == 100  # stops at count
    assert generator_lines("g", 0, 3, 1, 4) == [f"g-{generator_key(i, 1, 4)}" for i in range(3)]


def test_generator_origin_unreadable_is_a_checkpoint_error(tmp_path: Path) -> None:
    (tmp_path / "o.json").write_text("")
    plan = _GeneratorPlan("g", 1, 1, 0, None, 1000, str(tmp_path / "o.json"))
    with pytest.raises(CheckpointError, match="unreadable"):
        plan._origin(5000)


def test_a_batch_time_before_the_last_plan_is_replanned_empty(tmp_path: Path) -> None:
    """After a restart, Spark recomputes an old window's batches; one that read no file before
    the crash (empty plans are not logged) must not take the files that came since."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.txt").write_text("a\n")
    planner = DirectoryPlanner(str(inbox), str(tmp_path / "plans.jsonl"))
    assert planner.files_for(1000) == [str(inbox / "a.txt")]
    assert planner.files_for(2000) == []
    (inbox / "b.txt").write_text("b\n")
    assert planner.files_for(3000) == [str(inbox / "b.txt")]
    (inbox / "c.txt").write_text("c\n")
    restarted = DirectoryPlanner(str(inbox), str(tmp_path / "plans.jsonl"))
    assert restarted.files_for(2000) == []
    assert restarted.files_for(4000) == [str(inbox / "c.txt")]
