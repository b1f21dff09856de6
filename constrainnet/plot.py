"""Pictures of what the constraint does: random vs projected weights, basis elements, Cayley tables.

matplotlib is imported inside the functions (``pip install 'constrainnet[plot]'``).
Figures are built as :class:`matplotlib.figure.Figure` objects without
pyplot, so they render headless (the Agg canvas) and leave no global state;
Jupyter displays a returned figure as usual.

Example:
    >>> import constrainnet as cn
    >>> from constrainnet.groups import SO
    >>> V = cn.V(SO(3))
    >>> fig = weights(5 * V**0 + 5 * V, V)
    >>> print(fig.get_suptitle())
    (5*Scalar + 5*V) >> V
    basis dim 5 (free parameters), 5 distinct non-zero values in P W
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .groups import Group
from .reps import Rep
from .reps.composite import HomRep, SumRep

if TYPE_CHECKING:  # pragma: no cover - matplotlib is optional and imported where used
    from matplotlib.figure import Figure

__all__ = ["weights", "basis", "cayley", "decomposition", "projected_weights", "distinct_values", "DISTINCT_RTOL"]

#: Entries of a projected weight matrix closer than this (relative to its
#: largest entry) count as one value: the projection is exact to ~1e-13, so
#: entries tied by the constraint agree far below it, and entries of a
#: Gaussian W are ~1e-8 apart with probability ~1e-8.
DISTINCT_RTOL = 1e-8

_DIVERGING = "RdBu_r"  # zero is white, as in the dmol.pub EMLP pictures


def _figure(figsize: tuple[float, float]) -> "Figure":
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _save(fig: "Figure", file: str | os.PathLike | None) -> None:
    if file is not None:  # PNG is rendered by Agg whatever the backend: no display needed
        fig.savefig(os.fspath(file), format="png", dpi=120)


def projected_weights(rep_in: Rep, rep_out: Rep, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""A random weight matrix W and its projection P W onto the equivariant maps.

    W has i.i.d. N(0, 1) entries drawn from ``numpy.random.default_rng(seed)``;
    P is the orthogonal projector of ``rep_in >> rep_out``, applied to the
    row-major flattened W, so P W satisfies ρ_out(g) (P W) = (P W) ρ_in(g).

    Args:
        rep_in: the input rep.
        rep_out: the output rep (of the same group).
        seed: seed of the random W.

    Returns:
        ``(W, PW)``, both of shape (rep_out.size, rep_in.size), float64.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> W, PW = projected_weights(V, V)
        >>> bool(np.allclose(PW, np.trace(W) / 3 * np.eye(3)))
        True
    """
    hom = rep_in >> rep_out
    W = np.random.default_rng(seed).standard_normal((rep_out.size, rep_in.size))
    PW = np.asarray(hom.equivariant_projector() @ W.reshape(-1)).reshape(W.shape)
    return W, PW


def distinct_values(a: Any, rtol: float = DISTINCT_RTOL) -> int:
    """The number of distinct non-zero values among the entries of ``a``.

    Entries are rounded to ``rtol`` times the largest magnitude; entries that
    round to zero are not counted (the constraint fixes them), and a value and
    its negative count as two. For a projected random W this counts the free
    parameters the eye sees: entries tied to each other by the symmetry share
    one value.

    Example:
        >>> distinct_values([[1.0, 0.0], [0.0, 1.0 + 1e-12]]), distinct_values([[2.0, -2.0]])
        (1, 2)
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    scale = float(np.abs(a).max()) if a.size else 0.0
    if scale == 0.0:
        return 0
    rounded = np.rint(a / (scale * rtol)).astype(np.int64)
    return int(np.count_nonzero(np.unique(rounded)))


def weights(
    rep_in: Rep,
    rep_out: Rep,
    seed: int = 0,
    file: str | os.PathLike | None = None,
    ax: Sequence[Any] | None = None,
) -> "Figure":
    """Plot a random W next to its projection P W onto the equivariant maps ``rep_in → rep_out``.

    The picture of the EMLP chapter of dmol.pub: two heatmaps of shape
    (rep_out.size, rep_in.size), each on its own diverging colour scale
    symmetric about zero (P W is smaller than W, an orthogonal projection), so
    the structure the symmetry imposes (zeros, tied and sign-flipped entries)
    shows at a glance. Thin lines mark the copies of the blocks of sum reps.
    The title gives the dimension of the equivariant basis (the number of
    free parameters of an equivariant map) and the number of distinct
    non-zero values among the entries of P W (:func:`distinct_values`). The
    two differ in general: an entry of P W is a combination of several
    coefficients, so it can take more distinct values than there are
    parameters (r = 300 parameters can give 325 values), or fewer (tied
    entries).

    Args:
        rep_in: the input rep.
        rep_out: the output rep.
        seed: seed of the random W (see :func:`projected_weights`).
        file: if given, the figure is saved there as PNG.
        ax: two matplotlib Axes to draw into (random, projected); by default a
            new figure is made.

    Returns:
        The matplotlib Figure.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> fig = weights(V**2, V)
        >>> [a.get_title() for a in fig.axes[:2]]
        ['random W', 'projected P W']
    """
    W, PW = projected_weights(rep_in, rep_out, seed)
    hom = rep_in >> rep_out
    dim = hom.equivariant_basis().dim
    if ax is None:
        aspect = rep_out.size / max(rep_in.size, 1)  # heatmap cells stay near square until clipped
        panel_w = 4.5 if aspect <= 1 else max(2.8, 4.5 / aspect)
        panel_h = min(max(4.5 * aspect, 1.6), 7.0)
        fig = _figure((2 * panel_w + 2.0, panel_h + 1.8))
        axes = fig.subplots(1, 2)
    else:
        axes = list(ax)
        if len(axes) != 2:
            raise ValueError(f"weights: expected two Axes (random, projected), got {len(axes)}")
        fig = axes[0].figure
    for a, mat, title in zip(axes, (W, PW), ("random W", "projected P W")):
        vmax = float(np.abs(mat).max()) or 1.0  # each panel on its own scale
        image = a.imshow(mat, cmap=_DIVERGING, vmin=-vmax, vmax=vmax, interpolation="nearest", aspect="auto")
        a.set_title(title)
        a.set_xlabel(_wrap(f"in: {rep_in!r} ({rep_in.size})"), fontsize=9)
        a.set_ylabel(_wrap(f"out: {rep_out!r} ({rep_out.size})"), fontsize=9)
        _mark_blocks(a, rep_in, rep_out)
        fig.colorbar(image, ax=a, shrink=0.9)
    values = distinct_values(PW)
    chars = int(fig.get_figwidth() * 11)  # characters per line of the 10-point title
    counts = f"basis dim {dim} (free parameters), {values} distinct non-zero values in P W"
    fig.suptitle(f"{_wrap(repr(hom), chars)}\n{counts}", fontsize=10)
    _save(fig, file)
    return fig


def _wrap(text: str, width: int = 45) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


# Draw a line between every copy of a sum's blocks only up to this many per
# axis; beyond it, lines only between distinct components (else they hide W).
_MAX_COPY_LINES = 24


def _boundaries(rep: Rep) -> list[int]:
    """Coordinates where a block of a sum rep ends: every copy, or only every component if many."""
    if not isinstance(rep, SumRep):
        return []
    copies = [start + k * r.size for (r, m), start in zip(rep.components, rep.offsets) for k in range(m)]
    return copies[1:] if len(copies) <= _MAX_COPY_LINES else list(rep.offsets[1:-1])


def _mark_blocks(a: Any, rep_in: Rep, rep_out: Rep) -> None:
    from matplotlib.ticker import MaxNLocator

    for cut in _boundaries(rep_in):
        a.axvline(cut - 0.5, color="0.6", lw=0.5)
    for cut in _boundaries(rep_out):
        a.axhline(cut - 0.5, color="0.6", lw=0.5)
    a.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    a.yaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    a.tick_params(labelsize=8)


def basis(rep: Rep, n: int = 6, file: str | os.PathLike | None = None) -> "Figure":
    """Plot the first ``n`` elements of the equivariant basis Q of ``rep``.

    For a Hom rep ``a >> b`` each basis vector is shown as the (b.size, a.size)
    matrix it flattens (row-major); otherwise as a 1 × size strip. Each panel
    has its own diverging scale symmetric about zero.

    Args:
        rep: the rep.
        n: how many basis elements to show (at most the basis dimension).
        file: if given, the figure is saved there as PNG.

    Returns:
        The matplotlib Figure.

    Raises:
        ValueError: ``n`` is not a positive int.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import S
        >>> V = cn.V(S(4))
        >>> fig = basis(V >> V, n=3)
        >>> print(fig.get_suptitle())
        V >> V
        basis dim 2, showing 2
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"basis: expected a positive int n, got {n!r}")
    Q = rep.equivariant_basis()
    shown = min(int(n), Q.dim)
    columns = Q @ np.eye(Q.dim, shown) if shown else np.zeros((rep.size, 0))  # the first columns of Q
    is_hom = isinstance(rep, HomRep)
    shape = (rep.rep_out.size, rep.rep_in.size) if is_hom else (1, rep.size)
    ncols = min(shown, 3) if is_hom else 1
    nrows = max(1, -(-shown // ncols)) if shown else 1
    panel = (3.2, 3.0) if is_hom else (min(12.0, 2.0 + 0.25 * rep.size), 0.9)
    fig = _figure((panel[0] * ncols + 1.0, panel[1] * nrows + 0.8))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).reshape(-1)
    for k, a in enumerate(axes):
        if k >= shown:
            a.axis("off")
            continue
        mat = columns[:, k].reshape(shape)
        vmax = float(max(np.abs(mat).max(), 1e-12))
        a.imshow(mat, cmap=_DIVERGING, vmin=-vmax, vmax=vmax, interpolation="nearest", aspect="auto")
        a.set_title(f"Q[:, {k}]", fontsize=9)
        a.set_xticks([])
        a.set_yticks([])
    if shown == 0:
        axes[0].text(0.5, 0.5, "no equivariant elements", ha="center", va="center")
    fig.suptitle(f"{_wrap(repr(rep), 70)}\nbasis dim {Q.dim}, showing {shown}", fontsize=10)
    _save(fig, file)
    return fig


def cayley(group: Group, file: str | os.PathLike | None = None) -> "Figure":
    """Plot the Cayley table of a small finite group: entry (i, j) is the index of e_i e_j.

    Elements are numbered as in ``group.elements()`` (0 is the identity), and
    each index has its own colour, so a row is a permutation of the colours.

    Args:
        group: a finite group with at most 2,000 elements.
        file: if given, the figure is saved there as PNG.

    Returns:
        The matplotlib Figure.

    Raises:
        GroupError: for a continuous group or one too large to tabulate.

    Example:
        >>> from constrainnet.groups import D
        >>> cayley(D(3)).get_suptitle()
        'Cayley table of D(3) (order 6)'
    """
    table = group.cayley_table()
    n = len(table)
    fig = _figure((5.0, 4.6))
    a = fig.subplots()
    image = a.imshow(table, cmap="turbo", interpolation="nearest")
    if n <= 12:
        for i in range(n):
            for j in range(n):
                a.text(j, i, str(table[i, j]), ha="center", va="center", fontsize=8, color="white")
    a.set_xlabel("j")
    a.set_ylabel("i")
    fig.colorbar(image, ax=a, shrink=0.85, label="index of e_i e_j")
    fig.suptitle(f"Cayley table of {group!r} (order {n})")
    _save(fig, file)
    return fig


def decomposition(rep: Rep, g: Any, file: str | os.PathLike | None = None) -> "Figure":
    r"""Plot ρ(g) before and after the change of basis of ``rep.decompose()``.

    Left: ρ(g) in the rep's coordinates. Right: Uᵀ ρ(g) U = ⊕ₖ I_{mₖ} ⊗ πₖ(g),
    block-diagonal, with the isotypic components outlined and labelled by
    their type and multiplicity.

    Args:
        rep: a rep with orthogonal ρ, small enough to draw densely.
        g: a (d, d) element of ``rep.G``.
        file: if given, the figure is saved there as PNG.

    Returns:
        The matplotlib Figure.

    Raises:
        RepError: ``g`` has the wrong shape, or ρ is not orthogonal.
        SolverError: the decomposition cannot be certified.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> G = SO(3)
        >>> fig = decomposition(cn.V(G)**2, G.sample())
        >>> print(fig.get_suptitle())
        V**2 = l=0 + l=1 + l=2
    """
    from matplotlib.patches import Rectangle

    rho = rep.rho(g)
    D = rep.decompose()
    U = np.asarray(D.change_of_basis)
    after = U.T @ rho @ U
    fig = _figure((9.0, 4.6))
    axes = fig.subplots(1, 2)
    for a, mat, title in zip(axes, (rho, after), ("ρ(g)", "Uᵀ ρ(g) U")):
        a.imshow(mat, cmap=_DIVERGING, vmin=-1.0, vmax=1.0, interpolation="nearest")
        a.set_title(title, fontsize=10)
        a.set_xticks([])
        a.set_yticks([])
    for comp in D.components:
        size = comp.stop - comp.start
        axes[1].add_patch(
            Rectangle((comp.start - 0.5, comp.start - 0.5), size, size, fill=False, edgecolor="black", linewidth=1.0)
        )
        text = comp.irrep.label + (f" ×{comp.multiplicity}" if comp.multiplicity > 1 else "")
        axes[1].text(comp.stop - 0.5, comp.start - 0.5, " " + text, fontsize=7, va="bottom", ha="left")
    parts = " + ".join((f"{c.multiplicity}*" if c.multiplicity > 1 else "") + c.irrep.label for c in D.components)
    fig.suptitle(_wrap(f"{rep!r} = {parts}", 90), fontsize=10)
    _save(fig, file)
    return fig
