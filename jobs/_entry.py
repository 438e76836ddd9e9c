"""What every ``jobs/*.py`` entry point does: run its job with the command-line options.

spark-submit puts this directory first on ``sys.path``, so the entry points import it by name.
"""

import sys


def main(job: str, script: str) -> None:
    try:
        from sparkkit.cli import run_job_main
    except ImportError as exc:  # the driver runs an interpreter without sparkkit
        sys.exit(
            f"sparkkit: error: {exc} in {sys.executable}; set PYSPARK_PYTHON and PYSPARK_DRIVER_PYTHON "
            "to the interpreter where sparkkit is installed"
        )
    sys.exit(run_job_main(job, sys.argv[1:], prog=f"spark-submit {script}"))
