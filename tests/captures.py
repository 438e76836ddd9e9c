"""Real Spark query progress, captured from runs of sparkkit's Kafka reader (tests/data/progress)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROGRESS = Path(__file__).parent / "data" / "progress"
#: The topic's end offsets when the captures were made.
LATEST = {"views:0": 1309, "views:1": 1262}


def captured(name: str) -> dict[str, Any]:
    """The progress JSON captured as ``tests/data/progress/<name>.json``."""
    return json.loads((PROGRESS / f"{name}.json").read_text())
