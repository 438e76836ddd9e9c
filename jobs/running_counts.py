"""spark-submit entry point for the running_counts job.

    PYSPARK_PYTHON=.venv/bin/python PYSPARK_DRIVER_PYTHON=.venv/bin/python \
        .venv/bin/spark-submit jobs/running_counts.py --help
"""

from _entry import main

if __name__ == "__main__":
    main("running_counts", "jobs/running_counts.py")
