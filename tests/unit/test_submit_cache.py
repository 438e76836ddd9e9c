"""The cache of sparkkit zips for spark-submit keeps the newest few, not one per build for ever."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from sparkkit.submit import KEEP_ZIPS, package_zip, prune_zips


def old_zip(cache: Path, name: str, age_s: int) -> Path:
    path = cache / f"sparkkit-0.0.1-{name}.zip"
    path.write_bytes(b"PK")
    mtime = path.stat().st_mtime - age_s
    os.utime(path, (mtime, mtime))
    return path


def test_building_a_zip_keeps_it_and_the_newest_older_ones(tmp_path: Path) -> None:
    olds = [old_zip(tmp_path, f"old{age}", age) for age in (100, 200, 300, 400, 500)]
    other = tmp_path / "notes.txt"
    other.write_text("not ours")
    built = package_zip(tmp_path)
    assert zipfile.ZipFile(built).getinfo("sparkkit/submit.py")
    kept = sorted(tmp_path.glob("sparkkit-*.zip"))
    assert kept == sorted([built, *olds[: KEEP_ZIPS - 1]])
    assert other.exists()


def test_reusing_a_zip_makes_it_the_newest(tmp_path: Path) -> None:
    built = package_zip(tmp_path)
    os.utime(built, (built.stat().st_mtime - 1000,) * 2)  # built long ago
    newer = [old_zip(tmp_path, f"new{age}", age) for age in (10, 20, 30)]
    assert package_zip(tmp_path) == built  # reused, not rebuilt: and kept
    assert sorted(tmp_path.glob("sparkkit-*.zip")) == sorted([built, *newer[:2]])


def test_prune_keeps_what_there_is_when_there_are_few(tmp_path: Path) -> None:
    zips = [old_zip(tmp_path, str(n), n) for n in range(KEEP_ZIPS)]
    assert prune_zips(tmp_path) == []
    assert sorted(tmp_path.glob("*.zip")) == sorted(zips)
    assert prune_zips(tmp_path, keep=1) == zips[1:]  # the oldest go
    assert list(tmp_path.glob("*.zip")) == zips[:1]
