"""``python -m l2reg``: the command line."""

import sys

from l2reg.cli import main

sys.exit(main())
