"""Testing streaming jobs: the pytest plugin's fixtures, the stream harness, a line server."""

from __future__ import annotations

from sparkkit.testing.harness import Rows, StreamHarness, as_counts, without
from sparkkit.testing.kafka import new_topic, topic_with
from sparkkit.testing.servers import LineServer

__all__ = ["LineServer", "Rows", "StreamHarness", "as_counts", "new_topic", "topic_with", "without"]
