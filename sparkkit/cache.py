"""Where sparkkit keeps what it builds once and reuses (package zips, the JVM class archive)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sparkkit``, else ``~/.cache/sparkkit``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sparkkit"
