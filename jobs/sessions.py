"""spark-submit entry point for the sessions job.

    PYSPARK_PYTHON=.venv/bin/python PYSPARK_DRIVER_PYTHON=.venv/bin/python \
        .venv/bin/spark-submit jobs/sessions.py --help
"""

from _entry import main

if __name__ == "__main__":
    main("sessions", "jobs/sessions.py")
