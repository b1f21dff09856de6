"""``python -m constrainnet``: the ``constrainnet`` command (see :mod:`constrainnet.cli`).

The same entry point as the console script, for environments without it on
PATH and for launchers that take a module (``torchrun ... -m constrainnet``).
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
