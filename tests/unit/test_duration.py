from __future__ import annotations

import pytest

from sparkkit.duration import Duration


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500),
        ("10s", 10_000),
        ("2m", 120_000),
        ("1h", 3_600_000),
        ("1.5s", 1500),
        ("0", 0),
        ("3", 3000),
        (" 7s ", 7000),
    ],
)
def test_parses(text: str, ms: int) -> None:
    assert Duration.parse(text).ms == ms


@pytest.mark.parametrize(
    "text",
    ["", "s", "10 sec", "-1s", "1.0001s", "10x", "ten seconds", "1e3ms", float("inf"), 10**400, "9" * 40],
)
def test_rejects(text: object) -> None:
    with pytest.raises(ValueError):
        Duration.parse(text)  # type: ignore[arg-type]


def test_numbers_are_seconds_and_str_round_trips() -> None:
    assert Duration.parse(2) == Duration(2000)
    for text in ("500ms", "10s", "2m", "1h", "1500ms"):
        assert str(Duration.parse(text)) == text
    assert Duration.parse("6s").is_multiple_of(Duration.parse("2s"))
    assert not Duration.parse("7s").is_multiple_of(Duration.parse("2s"))
