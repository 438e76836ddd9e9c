"""spark-submit entry point for the windowed_counts job.

    PYSPARK_PYTHON=.venv/bin/python PYSPARK_DRIVER_PYTHON=.venv/bin/python \
        .venv/bin/spark-submit jobs/windowed_counts.py --help
"""

from _entry import main

if __name__ == "__main__":
    main("windowed_counts", "jobs/windowed_counts.py")
