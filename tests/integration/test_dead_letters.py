"""JSON lines that do not parse in a file source: kept as dead letters naming their file, in both APIs."""

from __future__ import annotations

import base64
from collections import Counter

import pytest

from sparkkit.deadletters import INVALID_UTF8, NOT_JSON
from sparkkit.testing import StreamHarness


def latest(rows: list[dict[str, object]]) -> dict[str, object]:
    """Each key's last running count."""
    return {str(r["key"]): r["count"] for r in rows}


@pytest.mark.parametrize("api", ["structured", "dstream"])
def test_malformed_json_lines_become_dead_letters(stream_harness: StreamHarness, api: str) -> None:
    inbox = stream_harness.workdir / f"inbox-{api}"
    inbox.mkdir(parents=True)
    good = [b'{"user": "ann"}', b'{"user": "bob"}', b'{"user": "ann"}']
    bad = [b'{"user": ', b"\xff\xfe{}"]
    lines = [good[0], bad[0], good[1], bad[1], good[2]]

    def drop() -> None:
        tmp = inbox / ".events.json.tmp"
        tmp.write_bytes(b"\n".join(lines) + b"\n")
        tmp.rename(inbox / "events.json")

    source = f"file://{inbox}?format=json&schema=user%20STRING"
    options = {"key": "user", "checkpoint": str(stream_harness.workdir / f"ck-{api}")}
    until = lambda rows: latest(rows) == {"ann": 2, "bob": 1}  # noqa: E731
    rows = stream_harness.run_live("running_counts", [source], until, api, options, drop)
    assert latest(rows) == {"ann": 2, "bob": 1}
    letters = stream_harness.dead_letters()
    assert len(letters) == 2 and {d["file"].removeprefix("file:") for d in letters} == {
        str(inbox / "events.json")
    }
    # each line's bytes are checked before they are parsed: the second is not UTF-8
    assert Counter(d["reason"] for d in letters) == {NOT_JSON: 1, INVALID_UTF8: 1}
    assert sorted(base64.b64decode(d["value_base64"]) for d in letters) == sorted(bad)
    assert stream_harness.last_stats is not None and stream_harness.last_stats.dead_letters == 2
