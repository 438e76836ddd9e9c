"""Checkpoint layout ``<root>/<job>/<query>``, the sparkkit manifest and the restart check.

Spark restores a DStream graph wholesale from its checkpoint and keys Structured state by
operator and source, so a restart with different state-shaping options is either silently
ignored or corrupts state. The manifest records those options and a restart must match them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sparkkit.errors import CheckpointError, CheckpointMismatchError

MANIFEST_NAME = "manifest.json"
META_DIR = "sparkkit"
LAST_BATCH_NAME = "last-batch.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class CheckpointLayout:
    """Where one query of one job keeps Spark's checkpoint and sparkkit's own metadata."""

    root: Path
    job: str
    query: str = "main"

    @property
    def path(self) -> Path:
        return self.root / self.job / self.query

    @property
    def meta(self) -> Path:
        return self.path / META_DIR

    @property
    def manifest_path(self) -> Path:
        return self.meta / MANIFEST_NAME

    def source_dir(self, name: str) -> Path:
        return self.meta / "sources" / name

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> CheckpointLayout:
        """The layout whose query directory is ``path``."""
        p = Path(path).resolve()
        return cls(p.parent.parent, p.parent.name, p.name)


@dataclass(frozen=True)
class Manifest:
    """What a checkpoint was written by: job, API, the state-shaping options, versions."""

    job: str
    api: str
    state: Mapping[str, str]
    sparkkit_version: str
    spark_version: str
    created: float = 0.0
    run_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "api": self.api,
            "state": dict(self.state),
            "sparkkit_version": self.sparkkit_version,
            "spark_version": self.spark_version,
            "created": self.created,
            "run_id": self.run_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            job=data["job"],
            api=data["api"],
            state=dict(data["state"]),
            sparkkit_version=data.get("sparkkit_version", "?"),
            spark_version=data.get("spark_version", "?"),
            created=float(data.get("created", 0.0)),
            run_id=str(data.get("run_id", "")),
        )


def read_manifest(layout: CheckpointLayout) -> Manifest | None:
    try:
        return Manifest.from_json(json.loads(layout.manifest_path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{layout.manifest_path} is not a sparkkit manifest: {exc}") from None


def write_manifest(layout: CheckpointLayout, manifest: Manifest) -> None:
    data = manifest.to_json()
    data["created"] = data["created"] or time.time()
    write_json_atomic(layout.manifest_path, data)


def differences(old: Manifest, new: Manifest) -> list[tuple[str, str, str]]:
    """(option, checkpoint value, this run's value) for each state-shaping option that differs."""
    diffs = []
    if old.job != new.job:
        diffs.append(("job", old.job, new.job))
    if old.api != new.api:
        diffs.append(("api", old.api, new.api))
    for name in sorted(set(old.state) | set(new.state)):
        before, after = old.state.get(name, "(unset)"), new.state.get(name, "(unset)")
        if before != after:
            diffs.append((name, before, after))
    return diffs


def holds_spark_state(path: Path) -> bool:
    """Does a query directory hold more than sparkkit's own metadata (Spark's offsets, commits)?

    Metadata alone (a source's origin logged while a run was being planned) holds no state to
    corrupt: such a directory counts as fresh.
    """
    return path.is_dir() and any(p.name != META_DIR for p in path.iterdir())


def resumed(new: Manifest, old: Manifest) -> Manifest:
    """``new`` as the continuation of ``old``: its run id (which names output files) and creation."""
    return replace(new, run_id=old.run_id or new.run_id, created=old.created)


def as_flag(name: str) -> str:
    """A state-shaping option as the command line spells it: ``--batch-interval``."""
    return "--" + name.replace("_", "-")


def check_restart(
    layout: CheckpointLayout, new: Manifest, spell: Callable[[str], str] = as_flag
) -> Manifest | None:
    """Refuse a restart that would corrupt state; return the manifest being resumed, if any.

    Raises
    ------
    CheckpointMismatchError
        The checkpoint was written with other state-shaping options; the message names each
        option (as ``spell`` writes it) and the command that resets the checkpoint.
    CheckpointError
        The directory holds files but no sparkkit manifest.
    """
    old = read_manifest(layout)
    if old is None:
        if holds_spark_state(layout.path):
            raise CheckpointError(
                f"{layout.path} is not empty and has no sparkkit manifest; refusing to reuse it. "
                f"Choose another --checkpoint or remove it: sparkkit checkpoint reset --force {layout.path}"
            )
        return None
    diffs = differences(old, new)
    if diffs:
        lines = [
            f"checkpoint {layout.path} was written with other state-shaping options; "
            "restarting on it would ignore or corrupt its state:"
        ]
        lines += [
            f"  {spell(name)}: checkpoint has {before!r}, this run has {after!r}"
            for name, before, after in diffs
        ]
        lines.append(
            f"Run with the checkpoint's options, or start afresh: sparkkit checkpoint reset {layout.path}"
        )
        raise CheckpointMismatchError("\n".join(lines))
    return old


def record_batch(layout: CheckpointLayout, batch_time_ms: int, batch_id: int | None, rows: int) -> None:
    """Note the last batch whose output was written, for ``sparkkit checkpoint inspect``."""
    write_json_atomic(
        layout.meta / LAST_BATCH_NAME,
        {"batch_time_ms": batch_time_ms, "batch_id": batch_id, "rows": rows, "written_at": time.time()},
    )


def _latest_structured_commit(path: Path) -> int | None:
    commits = path / "commits"
    ids = [int(p.name) for p in commits.iterdir() if p.name.isdigit()] if commits.is_dir() else []
    return max(ids) if ids else None


def _latest_dstream_checkpoint(path: Path) -> int | None:
    times = []
    for p in path.glob("checkpoint-*"):
        stem = p.name.removeprefix("checkpoint-").removesuffix(".bk")
        if stem.isdigit():
            times.append(int(stem))
    return max(times) if times else None


def inspect(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest and the last completed batch of the query checkpoint at ``path``."""
    layout = CheckpointLayout.at(path)
    manifest = read_manifest(layout)
    if manifest is None:
        raise CheckpointError(f"{layout.path} has no sparkkit manifest ({layout.manifest_path} is missing)")
    info: dict[str, Any] = {"path": str(layout.path), "manifest": manifest.to_json()}
    try:
        info["last_written_batch"] = json.loads((layout.meta / LAST_BATCH_NAME).read_text())
    except FileNotFoundError:
        info["last_written_batch"] = None
    if manifest.api == "structured":
        info["last_committed_batch_id"] = _latest_structured_commit(layout.path)
    else:
        info["last_checkpoint_time_ms"] = _latest_dstream_checkpoint(layout.path)
    return info


def reset(path: str | os.PathLike[str], force: bool = False) -> Path:
    """Delete the query checkpoint at ``path``; without ``force`` only a sparkkit one."""
    layout = CheckpointLayout.at(path)
    if not layout.path.is_dir():
        raise CheckpointError(f"{layout.path} is not a checkpoint directory")
    protected = {Path("/"), Path.home().resolve(), Path.cwd().resolve()}
    if layout.path in protected or Path.cwd().resolve().is_relative_to(layout.path):
        raise CheckpointError(f"refusing to delete {layout.path}: name the query directory, ROOT/JOB/QUERY")
    if not force and read_manifest(layout) is None:
        raise CheckpointError(
            f"{layout.path} has no sparkkit manifest; not deleting it (use --force if you are sure)"
        )
    shutil.rmtree(layout.path)
    return layout.path
