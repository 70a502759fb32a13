"""``python -m scheduler``: see :mod:`scheduler.cli.main`."""

import sys

from scheduler.cli.main import main

sys.exit(main())
