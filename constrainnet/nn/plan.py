"""The block plan of an equivariant linear map: which (in-block, out-block) pairs have maps, and their bases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..reps import Rep, SumRep

__all__ = ["Component", "PairBasis", "LinearPlan", "components", "BASIS_FORMAT_VERSION"]

# Bumped whenever the canonical form or the column order of bases changes, so a
# state_dict saved with another basis is refused instead of silently reloaded.
BASIS_FORMAT_VERSION = 2


@dataclass(frozen=True)
class Component:
    """One component of a (sum) rep: ``mult`` copies of ``rep`` starting at ``offset``."""

    rep: Rep
    mult: int
    offset: int

    @property
    def size(self) -> int:
        """Coordinates taken by all copies."""
        return self.rep.size * self.mult


@dataclass(frozen=True)
class PairBasis:
    """The maps from in-component ``i`` to out-component ``j``: basis (r, |b|, |a|) of Hom(a, b)."""

    i: int
    j: int
    basis: np.ndarray

    @property
    def r(self) -> int:
        return self.basis.shape[0]


def components(rep: Rep) -> list[Component]:
    """The components of ``rep`` in coordinate order (a non-sum rep is one component)."""
    if isinstance(rep, SumRep):
        return [Component(r, m, o) for (r, m), o in zip(rep.components, rep.offsets)]
    return [Component(rep, 1, 0)]


class LinearPlan:
    r"""Bases of every block pair of Hom(rep_in, rep_out), each distinct pair solved once.

    The equivariant maps between sums are W_ab = Σ_k C_k ⊗ B_k per pair of an
    in-component a (m copies) and an out-component b (n copies), with B_k the
    basis of Hom(a, b) and C_k a free n × m matrix.
    """

    def __init__(self, rep_in: Rep, rep_out: Rep) -> None:
        self.rep_in = rep_in
        self.rep_out = rep_out
        self.inputs = components(rep_in)
        self.outputs = components(rep_out)
        cache: dict[tuple[Rep, Rep], np.ndarray] = {}
        pairs = []
        for j, out in enumerate(self.outputs):
            for i, inp in enumerate(self.inputs):
                key = (inp.rep, out.rep)
                if key not in cache:
                    q = np.asarray((inp.rep >> out.rep).equivariant_basis())
                    cache[key] = q.T.reshape(q.shape[1], out.rep.size, inp.rep.size)
                if cache[key].shape[0]:
                    pairs.append(PairBasis(i, j, cache[key]))
        self.pairs = pairs

    @property
    def num_coefficients(self) -> int:
        """Free parameters of the weight: Σ r_ab · n_b · m_a."""
        return sum(p.r * self.outputs[p.j].mult * self.inputs[p.i].mult for p in self.pairs)

    def signature(self) -> list[float]:
        """A short float fingerprint of the bases: Σ_k (k+1) ⟨B_k, s⟩ per pair, s_t = sin(1 + t)."""
        out = []
        for p in self.pairs:
            flat = p.basis.reshape(p.r, -1)
            probe = np.sin(1.0 + np.arange(flat.shape[1]))
            out.append(float(np.arange(1, p.r + 1) @ (flat @ probe)))
        return out
