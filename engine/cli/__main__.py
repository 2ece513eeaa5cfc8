"""`python -m engine.cli ...`: the `slt` command."""

import sys

from engine.cli import main

sys.exit(main())
