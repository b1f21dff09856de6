"""Start-up time of the ``constrainnet`` command: ``--version``, ``--help`` and a usage error against a bare Python.

Each case runs in a fresh interpreter (``python -c "from constrainnet.cli
import main; main([...])"``), best and median of --repeats, beside
``python -c pass`` (the interpreter alone) and ``python -c "import torch"``
(what every command paid before the lazy imports). Printed as seconds and as
the ratio to the bare interpreter.

Run: python benchmarks/cli.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": "pass",
    "import torch": "import torch",
    "constrainnet --version": "from constrainnet.cli import main; main(['--version'])",
    "constrainnet --help": "from constrainnet.cli import main; main(['--help'])",
    "constrainnet train nosuchtask": "from constrainnet.cli import main; main(['train', 'nosuchtask'])",
    "constrainnet basis V (solves)": "from constrainnet.cli import main; main(['basis', 'V**2 >> V'])",
}


def run(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times = {name: [] for name in CASES}
    for _ in range(args.repeats):  # interleaved: the machine's load hits every case alike
        for name, code in CASES.items():
            times[name].append(run(code))
    bare = statistics.median(times["python -c pass"])
    print(f"{'case':<32}{'best s':>9}{'median s':>10}{'/ bare':>8}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<32}{min(ts):>9.3f}{med:>10.3f}{med / bare:>8.1f}")


if __name__ == "__main__":
    main()
