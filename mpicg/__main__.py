"""``python -m mpicg``: the ``mpicg`` command (see :mod:`mpicg.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
