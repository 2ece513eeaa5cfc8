"""`python -m engine.sim [options]`: same as `slt sim`."""

import sys

from engine.cli import main

sys.exit(main(["sim", *sys.argv[1:]]))
