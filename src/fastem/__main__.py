"""python -m fastem: the command line (fit the bundled Old Faithful data by default)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
