"""The ready jobs, by name."""

from __future__ import annotations

from sparkkit.config import closest
from sparkkit.errors import ConfigError
from sparkkit.jobs.base import Job, StructuredPlan
from sparkkit.jobs.running_counts import RunningCounts
from sparkkit.jobs.sessions import Sessions
from sparkkit.jobs.windowed_counts import WindowedCounts
from sparkkit.jobs.wordcount import WordCount

JOBS: dict[str, Job] = {job.name: job for job in (WordCount(), WindowedCounts(), RunningCounts(), Sessions())}


def get_job(name: str) -> Job:
    """The job called ``name``; raises :class:`ConfigError` naming the closest job otherwise."""
    try:
        return JOBS[name]
    except KeyError:
        guess = closest(name, JOBS)
        hint = f"did you mean {guess}? " if guess else ""
        raise ConfigError("JOB", name, f"{hint}jobs: {', '.join(JOBS)}") from None


__all__ = [
    "JOBS",
    "Job",
    "RunningCounts",
    "Sessions",
    "StructuredPlan",
    "WindowedCounts",
    "WordCount",
    "get_job",
]
