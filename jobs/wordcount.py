"""spark-submit entry point for the wordcount job.

    PYSPARK_PYTHON=.venv/bin/python PYSPARK_DRIVER_PYTHON=.venv/bin/python \
        .venv/bin/spark-submit jobs/wordcount.py --help
"""

from _entry import main

if __name__ == "__main__":
    main("wordcount", "jobs/wordcount.py")
