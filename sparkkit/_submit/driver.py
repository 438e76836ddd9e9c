"""The driver script ``sparkkit submit`` hands to spark-submit: ``driver.py JOB [job options]``.

It lives in a directory of its own because spark-submit puts the script's directory first on
``sys.path``.
"""

import sys

from sparkkit.cli import run_job_main

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: spark-submit driver.py JOB [job options]")
    sys.exit(run_job_main(sys.argv[1], sys.argv[2:], prog=f"sparkkit submit {sys.argv[1]}"))
