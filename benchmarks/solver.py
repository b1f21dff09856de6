"""Solver speed: our strategies against the dense reference and EMLP's recorded times.

Each case is solved cold (in-memory cache cleared, an empty disk cache in a
temporary folder) and timed once per repeat (best of --repeats); then solved
again with the in-memory cache cleared, so the leaves come from the disk cache
("2nd run"), as in a new process. Where the dense strategy can run (size ≤ --dense-max), it
is timed too and the ratio dense/ours printed. EMLP's time for the same case is
read from ../shared/anchors/emlp/results_basis.jsonl (first call in a fresh
process, measured on a 2-core machine of this kind) when that file is present,
or measured live beside ours with ``--emlp-python PATH``: the python of a
virtual environment made by ../shared/anchors/emlp/setup.sh, which runs that
folder's bench_basis.py on the same case in a fresh process (the EMLP column
then says "live").

Run: python benchmarks/solver.py [--dense-max 4096] [--repeats 3] [--only S8] [--memory] [--emlp-python PATH]
     python benchmarks/solver.py --decompose [--only SO3]   (the decomposition rows, see decomposition_table)
(SO(3) V**4 >> V**4 has 6,561 dims: --dense-max 8192 times dense on it too, ~20 s.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

import constrainnet as cn
from constrainnet.groups import C, Group, P4M, S, SO
from constrainnet.nn import uniform_rep
from constrainnet.solver import cache_clear, equivariant_basis

EMLP_RESULTS = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "emlp" / "results_basis.jsonl"


def cases():
    V3 = cn.V(SO(3))
    hidden = 100 * V3**0 + 30 * V3 + 10 * V3**2 + 3 * V3**3
    u256 = uniform_rep(256, SO(3))
    out = [
        ("SO3:hidden>>hidden", "(100*V**0+30*V+10*V**2+3*V**3)>>(same)", hidden >> hidden, None),
        ("SO3:uniform_rep(256)>>uniform_rep(256)", "uniform_rep(256)>>uniform_rep(256)", u256 >> u256, "SO3:uniform_rep(256)>>uniform_rep(256)"),
        ("SO3:V**3>>V**3", "V**3>>V**3", V3**3 >> V3**3, None),
        ("SO3:small-hidden>>small-hidden", "(10*V**0+5*V+2*V**2)>>(same)", (10 * V3**0 + 5 * V3 + 2 * V3**2) >> (10 * V3**0 + 5 * V3 + 2 * V3**2), None),
        ("SO3:(V**2+V)>>(V**2+V)", "(V**2+V)>>(V**2+V)", (V3**2 + V3) >> (V3**2 + V3), "SO3:(V**2+V)>>(V**2+V)"),
        ("SO3:V**4>>V**4", "V**4>>V**4", V3**4 >> V3**4, None),
        ("SO3:V**5>>V**5", "V**5>>V**5 (59,049 dims)", V3**5 >> V3**5, None),
    ]
    for n in (5, 8):
        W = cn.V(S(n))
        out.append((f"S{n}:V**2>>V**2", "V**2>>V**2", W**2 >> W**2, f"S{n}:V**2>>V**2"))
        out.append((f"S{n}:V**3>>V", "V**3>>V", W**3 >> W, f"S{n}:V**3>>V"))
    # finite groups that do not permute coordinates, with large invariant spaces (the group-average path)
    u2 = uniform_rep(256, C(2))
    out.append(("C2:uniform_rep(256)>>uniform_rep(256)", "uniform_rep(256)>>same (r = 32,768)", u2 >> u2, None))
    sp2 = Group(discrete_generators=[np.array([[0.0, -1.0], [1.0, 1.0]])], name="Sp(2)>Z6")  # order 6, not orthogonal
    usp = uniform_rep(256, sp2)
    out.append(("Sp2(Z6):uniform_rep(256)>>uniform_rep(256)", "uniform_rep(256)>>same, custom symplectic generator", usp >> usp, None))
    P = cn.V(P4M(32))
    out.append(("P4M32:V>>V", "V>>V (1,048,576 dims)", P >> P, None))
    P = cn.V(P4M(64))
    out.append(("P4M64:V>>V", "V>>V (16,777,216 dims)", P >> P, None))
    G = SO(3) * S(8)
    points = cn.V(G, factor=0) * cn.V(G, factor=1)
    out.append(("SO3xS8:V[0]*V[1]>>same", "V[0]*V[1]>>V[0]*V[1]", points >> points, None))
    return out


def timed(rep, strategy, repeats):
    best, dim = float("inf"), None
    for _ in range(repeats):
        cache_clear()
        os.environ["CONSTRAINNET_CACHE_DIR"] = tempfile.mkdtemp(prefix="constrainnet-bench-")
        t0 = time.perf_counter()
        Q = equivariant_basis(rep, strategy)
        best = min(best, time.perf_counter() - t0)
        dim, used = Q.dim, Q.strategy
    return best, dim, used


def peak_memory_mb(rep):
    """Peak memory allocated by a cold solve (tracemalloc: numpy and Python allocations), in MB."""
    cache_clear()
    os.environ["CONSTRAINNET_CACHE_DIR"] = tempfile.mkdtemp(prefix="constrainnet-bench-")
    tracemalloc.start()
    equivariant_basis(rep)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def second_run(rep):
    """Time of a solve served by the disk cache filled by the last cold run."""
    cache_clear()
    t0 = time.perf_counter()
    equivariant_basis(rep)
    return time.perf_counter() - t0


def emlp_live(python: str, case: str) -> float | None:
    """EMLP's first-call seconds for ``case``, run now by its own bench_basis.py in its own environment."""
    script = EMLP_RESULTS.parent / "bench_basis.py"
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        run = subprocess.run([python, str(script), "--only", case, "--log", log.name], capture_output=True, text=True, timeout=900)
    for line in run.stdout.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("case") == case and row.get("status") == "ok":
            return float(row["seconds_first_call"])
    return None


# -- decompositions ----------------------------------------------------------------
def decomposition_cases():
    """(name, rep) of the decomposition rows."""
    from constrainnet.groups import O, Z

    V3, VO3 = cn.V(SO(3)), cn.V(O(3))
    return [
        ("SO3 uniform_rep(384)", uniform_rep(384, SO(3))),
        ("SO3 V**4", V3**4),
        ("SO3 V**5", V3**5),
        ("O3 V**4", VO3**4),
        ("S6 V**3", cn.V(S(6)) ** 3),
        ("P4M4 V**2", cn.V(P4M(4)) ** 2),
        ("Z12 V**2", cn.V(Z(12)) ** 2),
        ("SO2 V**6", cn.V(SO(2)) ** 6),
    ]


def decomposition_table(only: str = "", repeats: int = 3) -> None:
    """Seconds of ``rep.decompose()`` cold (empty caches) and cached, beside the cold ``rep >> rep`` basis.

    Cold times are the fastest of ``repeats`` runs, each after emptying every
    cache (in memory, the types met, and a fresh disk cache directory): on a
    shared machine one run can be slowed several times by other processes.
    The ``rep >> rep`` basis is timed in a fresh disk cache directory too, so
    that it is never a file written while decomposing. BLAS threads follow the
    environment (``OPENBLAS_NUM_THREADS=1`` gives steadier times on a loaded machine).
    """
    from constrainnet.solver import decompose, decomposition_cache_clear

    header = f"{'case':<24} {'size':>6} {'types':>5} {'decompose s':>11} {'cached s':>9} {'rep>>rep s':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for name, rep in decomposition_cases():
        if only not in name:
            continue
        first, hom = float("inf"), float("inf")
        for _ in range(max(1, repeats)):
            cache_clear()
            decomposition_cache_clear()
            os.environ["CONSTRAINNET_CACHE_DIR"] = tempfile.mkdtemp(prefix="constrainnet-bench-")
            t0 = time.perf_counter()
            D = decompose(rep)
            first = min(first, time.perf_counter() - t0)
            t0 = time.perf_counter()
            decompose(rep)
            cached = time.perf_counter() - t0
            cache_clear()
            os.environ["CONSTRAINNET_CACHE_DIR"] = tempfile.mkdtemp(prefix="constrainnet-bench-")  # uncached: not a file decompose wrote
            t0 = time.perf_counter()
            equivariant_basis(rep >> rep)
            hom = min(hom, time.perf_counter() - t0)
        print(f"{name:<24} {rep.size:>6} {len(D.components):>5} {first:>11.4f} {cached:>9.6f} {hom:>10.4f} {first / hom:>5.1f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense-max", type=int, default=4096, help="largest rep size solved densely for the ratio")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="run cases whose name contains this")
    parser.add_argument("--memory", action="store_true", help="also report the peak memory of a cold solve (one more run)")
    parser.add_argument("--emlp-python", default="", help="python of an EMLP environment (setup.sh) to time EMLP live")
    parser.add_argument("--decompose", action="store_true", help="time rep.decompose() instead (decomposition_table)")
    args = parser.parse_args()
    if args.decompose:
        decomposition_table(args.only, args.repeats)
        return
    emlp = {}
    if EMLP_RESULTS.exists():
        for line in EMLP_RESULTS.read_text().splitlines():
            row = json.loads(line)
            emlp[row["case"]] = row.get("seconds_first_call")
    header = (
        f"{'case':<40} {'size':>9} {'dim':>6} {'strategy':>8} {'ours s':>9} {'2nd run':>8} "
        f"{'dense s':>9} {'dense/ours':>10} {'EMLP s':>10} {'EMLP/ours':>9}" + (f" {'peak MB':>8}" if args.memory else "")
    )
    print(header)
    print("-" * len(header))
    for name, text, rep, emlp_key in cases():
        if args.only not in name:
            continue
        t, dim, used = timed(rep, None, args.repeats)
        again = f"{100 * second_run(rep) / t:.0f}%"
        dense = ratio = "n/a"
        if rep.size <= args.dense_max:
            td, dim_dense, _ = timed(rep, "dense", 1)
            assert dim_dense == dim, f"{name}: dense dim {dim_dense} != {dim}"
            dense, ratio = f"{td:.4f}", f"{td / t:.1f}x"
        e = emlp.get(emlp_key) if emlp_key else None
        live = bool(args.emlp_python and emlp_key)
        if live:
            e = emlp_live(args.emlp_python, emlp_key)
        e_text = (f"{e:.2f}" + (" live" if live else "")) if isinstance(e, (int, float)) else "n/a"
        e_ratio = f"{e / t:.0f}x" if isinstance(e, (int, float)) else "n/a"
        print(f"{name:<40} {rep.size:>9} {dim:>6} {used:>8} {t:>9.4f} {again:>8} {dense:>9} {ratio:>10} {e_text:>10} {e_ratio:>9}" + (f" {peak_memory_mb(rep):>8.0f}" if args.memory else ""))


if __name__ == "__main__":
    main()
