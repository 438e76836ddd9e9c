"""spark-submit entry point for the wordcount job.

    PYSPARK_PYTHON=.venv/bin/python PYSPARK_DRIVER_PYTHON=.venv/bin/python \
        .venv/bin/spark-submit jobs/wordcount.py --source generator://words?rate=10 --duration 30s
"""

import sys

try:
    from sparkkit.cli import run_job_main
except ImportError as exc:  # the driver runs an interpreter without sparkkit
    sys.exit(
        f"sparkkit: error: {exc} in {sys.executable}; set PYSPARK_PYTHON and PYSPARK_DRIVER_PYTHON "
        "to the interpreter where sparkkit is installed"
    )

if __name__ == "__main__":
    sys.exit(run_job_main("wordcount", sys.argv[1:], prog="spark-submit jobs/wordcount.py"))
