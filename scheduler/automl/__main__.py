"""``python -m scheduler.automl``: see :mod:`scheduler.automl.cli`."""

import sys

from scheduler.automl.cli import main

sys.exit(main())
