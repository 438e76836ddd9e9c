"""The checkpoint manifest: a restart with other state-shaping options is refused, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkkit.checkpoint import (
    CheckpointLayout,
    Manifest,
    check_restart,
    inspect,
    record_batch,
    reset,
    write_manifest,
)
from sparkkit.errors import CheckpointError, CheckpointMismatchError


def manifest(**state: str) -> Manifest:
    return Manifest("windowed_counts", "dstream", {"source": "generator://a", **state}, "0.1.0", "4.3.0")


def test_layout_is_root_job_query(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "wordcount")
    assert layout.path == tmp_path / "wordcount" / "main"
    assert CheckpointLayout.at(layout.path) == layout


def test_fresh_directory_starts_and_same_options_resume(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "windowed_counts")
    assert check_restart(layout, manifest(window="10s")) is None
    write_manifest(layout, manifest(window="10s"))
    resumed = check_restart(layout, manifest(window="10s"))
    assert resumed is not None and resumed.state["window"] == "10s"


def test_changed_window_is_refused_naming_option_and_reset_command(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "windowed_counts")
    write_manifest(layout, manifest(window="10s", slide="2s"))
    with pytest.raises(CheckpointMismatchError) as info:
        check_restart(layout, manifest(window="20s", slide="2s"))
    message = str(info.value)
    assert "--window: checkpoint has '10s', this run has '20s'" in message
    assert "--slide" not in message
    assert f"sparkkit checkpoint reset {layout.path}" in message
    assert info.value.exit_code == 2


def test_every_difference_is_listed(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "windowed_counts")
    write_manifest(layout, manifest(window="10s"))
    changed = Manifest(
        "windowed_counts", "structured", {"source": "generator://b", "window": "10s"}, "0.1.0", "4.3.0"
    )
    with pytest.raises(CheckpointMismatchError) as info:
        check_restart(layout, changed)
    assert "--api: checkpoint has 'dstream', this run has 'structured'" in str(info.value)
    assert "--source: checkpoint has 'generator://a', this run has 'generator://b'" in str(info.value)


def test_foreign_non_empty_directory_is_refused(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "wordcount")
    layout.path.mkdir(parents=True)
    (layout.path / "checkpoint-1000").write_text("not ours")
    with pytest.raises(CheckpointError, match="no sparkkit manifest"):
        check_restart(layout, manifest())
    with pytest.raises(CheckpointError, match="not deleting"):
        reset(layout.path)
    assert reset(layout.path, force=True) == layout.path
    assert not layout.path.exists()


def test_inspect_reports_manifest_and_last_batch(tmp_path: Path) -> None:
    layout = CheckpointLayout(tmp_path, "windowed_counts")
    write_manifest(layout, manifest(window="10s"))
    (layout.path / "checkpoint-1700000005000").write_text("")
    (layout.path / "checkpoint-1700000004000.bk").write_text("")
    record_batch(layout, 1_700_000_005_000, None, 42)
    info = inspect(layout.path)
    assert info["manifest"]["state"]["window"] == "10s"
    assert info["last_written_batch"]["rows"] == 42
    assert info["last_checkpoint_time_ms"] == 1_700_000_005_000
    reset(layout.path)
    assert not layout.path.exists()
