"""``python -m sparkkit``: the ``sparkkit`` command."""

import sys

from sparkkit.cli import main

sys.exit(main())
