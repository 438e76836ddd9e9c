"""File names that Hadoop reads as patterns (``, { } [ ] * ? \\``) are files like any other, in
both APIs: each read once, beside the files such a pattern would match instead."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from pyspark.sql import SparkSession

from sparkkit.deadletters import INVALID_UTF8, DeadLetter
from sparkkit.sources import source_for
from sparkkit.sources.files import DirectoryPlanner
from tests.integration.test_bad_records import run_source, write_file

#: Names with Hadoop's glob and path characters, and other unusual ones.
SPECIAL = ["a,b.txt", "c{d}.txt", "e[f].txt", "g*h.txt", "i?j.txt", "k\\l.txt", "[x]", "{p,q}", "*", "?",
           "\\", "m n.txt", "p%41.txt", "r#s", "ü.txt", "-dash"]  # fmt: skip
#: Names a glob of the names above would match instead of them.
DECOYS = ["cd.txt", "ef.txt", "gxh.txt", "ixj.txt", "x", "p", "q", "plain.txt"]
NAMES = SPECIAL + DECOYS


def lines_of(name: str) -> list[bytes]:
    """Two good lines naming the file, and one that is not UTF-8 (a dead letter naming it)."""
    return [f"{name} one".encode(), f"{name} two".encode(), name.encode() + b" \xff"]


@pytest.mark.parametrize("api", ["structured", "dstream"])
def test_special_names_are_each_read_once(spark: SparkSession, tmp_path: Path, api: str) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    present, later = NAMES[::2], NAMES[1::2]  # some there at the start, the rest moved in after
    for name in present:
        write_file(inbox, name, b"\n".join(lines_of(name)) + b"\n")

    def move_in() -> None:
        for name in later:
            write_file(inbox, name, b"\n".join(lines_of(name)) + b"\n")

    source = source_for(f"file://{inbox}?format=text")
    elements = run_source(spark, source, api, tmp_path, 3 * len(NAMES), move_in)

    good = Counter(e for e in elements if isinstance(e, str))
    assert good == Counter(line.decode() for name in NAMES for line in lines_of(name)[:2])
    letters = [e for e in elements if isinstance(e, DeadLetter)]
    assert {e.reason for e in letters} == {INVALID_UTF8}
    # each dead letter names the file that holds it (a percent-encoded URI)
    held = Counter((unquote(urlparse(e.file or "").path), base64.b64decode(e.value_base64)) for e in letters)
    assert held == Counter((str(inbox / name), lines_of(name)[2]) for name in NAMES)


def test_a_name_hadoop_cannot_open_is_skipped_with_a_warning_in_dstreams(
    spark: SparkSession, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """``a:b`` is read by Hadoop as a URI with the scheme ``a``: it cannot be opened, by the DStream
    reader nor by Spark's Structured file source (whose query fails). The DStream form says so and
    reads the rest."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_file(inbox, "u:v.txt", b"never read\n")
    write_file(inbox, "ok.txt", b"read\n")
    source = source_for(f"file://{inbox}?format=text")
    assert run_source(spark, source, "dstream", tmp_path, 1, None) == ["read"]
    assert f"not reading {inbox / 'u:v.txt'}: Hadoop cannot open a name with :" in capfd.readouterr().err


def test_files_an_older_version_skipped_are_planned_again(tmp_path: Path) -> None:
    """A plan log from before names with glob characters were read: those files come next."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    for name in ("a.txt", "re[port].txt", "u:v.txt", "b.txt"):
        (inbox / name).write_text("x\n")
    log = tmp_path / "plans.jsonl"
    skipped = [str(inbox / "re[port].txt"), str(inbox / "u:v.txt")]
    log.write_text(json.dumps({"batch": 1000, "files": [str(inbox / "a.txt")], "skipped": skipped}) + "\n")
    planner = DirectoryPlanner(str(inbox), str(log))
    assert planner.files_for(1000) == [str(inbox / "a.txt")]  # a logged plan is replayed as it was
    assert planner.files_for(2000) == [str(inbox / "b.txt"), str(inbox / "re[port].txt")]
    assert planner.files_for(3000) == []
