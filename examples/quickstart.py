"""Quickstart: a few equivariant bases
===================================

Solve a few equivariant bases and check one: the shortest tour of the solver.

Run: python examples/quickstart.py
"""

import numpy as np

import constrainnet as cn
from constrainnet.groups import SO, S, Lorentz

V = cn.V(SO(3))
for expr, rep in [("V**2 >> V", V**2 >> V), ("V**3 >> V**3", V**3 >> V**3), ("(5*V**0 + 5*V) >> V", (5 * V**0 + 5 * V) >> V)]:
    Q = rep.equivariant_basis()
    print(f"SO(3)   {expr:<22} size {rep.size:>5}  basis dim {Q.dim:>3}  strategy {Q.strategy}")

W = cn.V(S(5))
print(f"S(5)    V**2 >> V**2           size {(W**2 >> W**2).size:>5}  basis dim {(W**2 >> W**2).equivariant_basis().dim:>3}")

L = cn.V(Lorentz())
metric = np.asarray((L**2).equivariant_basis()).reshape(4, 4)
print("Lorentz invariant of V**2 (the metric, normalised):")
print(np.round(metric / metric[0, 0], 6))
