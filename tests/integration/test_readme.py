"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from sparkkit.testing import StreamHarness

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example(stream_harness: StreamHarness) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    test = namespace["test_wordcount"]
    assert callable(test)
    test(stream_harness)
