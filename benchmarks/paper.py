"""The EMLP paper's tables, ours beside the paper's: the same run as ``constrainnet reproduce``.

See :mod:`constrainnet.reproduce`. The whole grid (3 tasks, 7 sizes, 4–5
methods, 3 trials, ch 384, up to 1,000 epochs) is GPU work; ``--quick`` is a
few-minute subset for a CPU.

Run: python benchmarks/paper.py [--quick] [--tasks ...] [--n-train ...] [--methods ...] [--trials N]
     [--device DEV] [--out DIR]
"""

from __future__ import annotations

import sys
from typing import Sequence

from constrainnet.cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    """``constrainnet reproduce`` with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    return cli_main(["reproduce", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
