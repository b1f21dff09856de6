r"""Feature fields on the plane: a point group acting on a pixel grid and on the channels.

A feature map is a tensor (batch, C, H, W). Pixel (i, j) sits at the lattice
point i·b₁ + j·b₂ of its grid: the square grid (b₁ = (1, 0), b₂ = (0, 1)) or
the hexagonal grid in axial coordinates (b₁ = (1, 0), b₂ = (1/2, √3/2): the
array holds a rhombus of the hexagonal lattice, each pixel with six
neighbours (i ± 1, j), (i, j ± 1), (i + 1, j − 1), (i − 1, j + 1)).

A point group G (finite, acting on R² by its 2×2 matrices: ``C(n)``,
``D(n)``) acts on a field of type ρ by moving pixels about the image centre c
and mixing channels:

.. math::
    (g \cdot f)(p) = \rho(g)\, f\big(c + L(g)^{-1} (p - c)\big),
    \qquad L(g) = B^{-1} g B,

B the grid's basis. The elements with integral L(g) map the grid onto itself;
on them a steerable layer's equivariance is exact. On the square grid that is
all of C(n), D(n) for n ∈ {1, 2, 4}; on the hexagonal grid n ∈ {1, 2, 3, 6};
C(8) on the square grid keeps exactness on its C(4) part only.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import RepError
from ..groups import Group
from ..reps import Rep, direct_sum

__all__ = ["PlaneGrid", "SQUARE_GRID", "HEX_GRID", "FieldType"]


class PlaneGrid:
    """A lattice of pixels in the plane: its name and basis B (columns b₁, b₂).

    Attributes:
        name: ``"square"`` or ``"hex"``.
        basis: the (2, 2) matrix B.
    """

    def __init__(self, name: str, basis: np.ndarray) -> None:
        self.name = name
        self.basis = np.array(basis, dtype=float)
        self.basis.setflags(write=False)
        self._inverse = np.linalg.inv(self.basis)

    def lattice_action(self, g: Any) -> np.ndarray | None:
        """L(g) = B⁻¹ g B as an int matrix, or None when g does not map the grid onto itself."""
        m = self._inverse @ np.asarray(g, dtype=float) @ self.basis
        r = np.rint(m)
        return r.astype(np.int64) if np.abs(m - r).max() < 1e-8 else None

    def preserves(self, G: Group) -> bool:
        """True when every generator of G maps the grid onto itself (so every element does)."""
        return all(self.lattice_action(g) is not None for g in G.discrete_generators)

    def window(self, size: int) -> np.ndarray:
        """The (n, 2) integer offsets (δ_row, δ_col) of a kernel of side ``size`` (odd), row-major.

        The square grid takes the whole size × size square; the hexagonal grid
        the hexagon of offsets at hexagonal distance :math:`(|a| + |b| + |a + b|) / 2`
        ≤ (size − 1) / 2 of the centre, the others in the square left zero.
        """
        r = (size - 1) // 2
        a, b = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
        pts = np.stack([a.ravel(), b.ravel()], axis=1)
        if self.name == "hex":
            dist = (np.abs(pts[:, 0]) + np.abs(pts[:, 1]) + np.abs(pts.sum(1))) // 2
            pts = pts[dist <= r]
        return pts

    def positions(self, offsets: np.ndarray) -> np.ndarray:
        """(n, 2) points of R² (the coordinates G acts on) of integer lattice offsets."""
        return np.asarray(offsets, dtype=float) @ self.basis.T

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlaneGrid) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("PlaneGrid", self.name))

    def __repr__(self) -> str:
        return self.name


SQUARE_GRID = PlaneGrid("square", np.eye(2))
HEX_GRID = PlaneGrid("hex", np.array([[1.0, 0.5], [0.0, math.sqrt(3) / 2]]))
_GRIDS = {"square": SQUARE_GRID, "hex": HEX_GRID}


def _grid_of(G: Group, grid: str | PlaneGrid | None) -> PlaneGrid:
    if isinstance(grid, PlaneGrid):
        return grid
    if grid is None:
        if SQUARE_GRID.preserves(G) or not HEX_GRID.preserves(G):
            return SQUARE_GRID
        return HEX_GRID
    if grid not in _GRIDS:
        raise ValueError(f"FieldType: expected grid 'square', 'hex' or None, got {grid!r}")
    return _GRIDS[grid]


class FieldType:
    r"""The type of a feature map: a point group, a pixel grid and a list of fields (reps).

    The channels are the fields' coordinates concatenated in list order, so
    ``size`` = Σ ρᵢ.size and ρ(g) is block-diagonal over the fields. A field
    may be any rep of G: trivial (``cn.Scalar(G)``), regular
    (``cn.regular(G)``), quotient, an irreducible (``cn.irreducibles(G)``),
    or any rep expression (``cn.V(G)``, ``cn.V(G)**2``, …).

    Args:
        G: a finite group acting on R² by 2×2 matrices (``C(n)``, ``D(n)``, a subgroup).
        reps: the fields, each a rep of G (one rep makes one field).
        grid: ``"square"``, ``"hex"`` or None: the square grid when it is
            preserved by G or neither is, else the hexagonal one.

    Raises:
        TypeError: G is not a Group, or a field is not a Rep.
        RepError: G is continuous or does not act on R², or a field is a rep of another group.
        ValueError: an unknown grid, or no fields.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import D
        >>> G = D(4)
        >>> t = FieldType(G, 3 * [cn.regular(G)] + [cn.Scalar(G)])
        >>> t.size, t.grid, len(t)
        (25, square, 4)
    """

    def __init__(self, G: Group, reps: Sequence[Rep] | Rep, grid: str | PlaneGrid | None = None) -> None:
        if not isinstance(G, Group):
            raise TypeError(f"FieldType: expected a constrainnet Group, got {type(G).__name__}")
        if not G.is_finite or G.d != 2:
            raise RepError(f"FieldType: expected a finite group acting on R² (C(n), D(n)), got {G!r}")
        if isinstance(reps, Rep):
            reps = [reps]
        reps = tuple(reps)
        if not reps:
            raise ValueError("FieldType: expected at least one field, got none")
        for r in reps:
            if not isinstance(r, Rep):
                raise TypeError(f"FieldType: expected Reps of {G!r}, got {type(r).__name__}")
            if r.G != G:
                raise RepError(f"FieldType: the field {r!r} is a rep of {r.G!r}, expected a rep of {G!r}")
        self.G = G
        self.reps = reps
        self.grid = _grid_of(G, grid)
        starts = np.cumsum([0] + [r.size for r in reps])
        self._starts = tuple(int(s) for s in starts)

    @property
    def size(self) -> int:
        """C, the number of channels."""
        return self._starts[-1]

    @property
    def rep(self) -> Rep:
        """The direct sum of the fields, in order (the rep of one pixel's channels)."""
        return direct_sum(*self.reps)

    def slice(self, i: int) -> slice:
        """The channels of field i."""
        return slice(self._starts[i], self._starts[i + 1])

    def __len__(self) -> int:
        return len(self.reps)

    def __add__(self, other: "FieldType") -> "FieldType":
        if not isinstance(other, FieldType) or other.G != self.G or other.grid != self.grid:
            raise TypeError("FieldType + FieldType: expected field types of the same group and grid")
        return FieldType(self.G, self.reps + other.reps, self.grid)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldType) and (other.G, other.reps, other.grid) == (self.G, self.reps, self.grid)

    def __hash__(self) -> int:
        return hash((self.G, self.reps, self.grid))

    def __repr__(self) -> str:
        shown: list[str] = []
        for r in self.reps:
            if shown and shown[-1].endswith(f"×{r!r}"):
                n = int(shown[-1].split("×")[0]) + 1
                shown[-1] = f"{n}×{r!r}"
            else:
                shown.append(f"1×{r!r}")
        return f"FieldType({self.G!r}, [{', '.join(shown)}], grid={self.grid})"

    def restrict(self, H: Group) -> "FieldType":
        """The same fields seen by a subgroup H of G (as escnn's ``restrict``): D(4) → C(4), say.

        Args:
            H: a :class:`~constrainnet.groups.Subgroup` of G, or a group whose
                generators are elements of G (wrapped as one, keeping its name).

        Returns:
            A FieldType of the subgroup on the same grid, each field restricted
            (a regular field of G holds :math:`|G|/|H|` regular fields of H),
            its channels laid out as before.

        Raises:
            TypeError: H is not a Group.
            GroupError: a generator of H is not an element of G.

        Example:
            >>> import constrainnet as cn
            >>> from constrainnet.groups import C, D
            >>> t = FieldType(D(4), [cn.regular(D(4))]).restrict(C(4))
            >>> t.size, t.G.order
            (8, 4)
        """
        from ..groups import Subgroup

        if not isinstance(H, Group):
            raise TypeError(f"FieldType.restrict: expected a Group, got {type(H).__name__}")
        if H != self.G and not (isinstance(H, Subgroup) and H.is_subgroup_of(self.G)):
            H = Subgroup(self.G, discrete_generators=H.discrete_generators, name=H.name)
        return FieldType(H, [r.restrict(H) for r in self.reps], self.grid)

    # -- the group action ----------------------------------------------------
    def grid_elements(self) -> np.ndarray:
        """The elements of G that map the grid onto itself: those on which equivariance is exact."""
        return np.array([g for g in self.G.elements() if self.grid.lattice_action(g) is not None])

    def rho(self, g: Any) -> np.ndarray:
        """The (size, size) block-diagonal ρ(g) of one pixel's channels."""
        out = np.zeros((self.size, self.size))
        for i, r in enumerate(self.reps):
            s = self.slice(i)
            out[s, s] = r.rho(g)
        return out

    def transform(self, x: torch.Tensor, g: Any) -> torch.Tensor:
        r"""g · x: move the pixels of x about the image centre by g and mix its channels by ρ(g).

        Pixels that come from outside the image are zero. On the square grid a
        square image maps onto itself; on the hexagonal grid a centred hexagon
        of a (2r + 1) × (2r + 1) image does.

        Args:
            x: a (batch, size, H, W) feature map.
            g: an element of G that maps the grid onto itself.

        Returns:
            The transformed map, of x's shape, dtype and device.

        Raises:
            ValueError: x is not (batch, size, H, W), g does not preserve the
                grid, or the rotation about the centre does not map pixels to pixels.

        Example:
            >>> import torch, constrainnet as cn
            >>> from constrainnet.groups import C
            >>> t = FieldType(C(4), [cn.Scalar(C(4))])
            >>> x = torch.arange(4.0).reshape(1, 1, 2, 2)
            >>> t.transform(x, C(4).discrete_generators[0])[0, 0]
            tensor([[1., 3.],
                    [0., 2.]])
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.size:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"FieldType.transform: expected a (batch, {self.size}, H, W) tensor, got {shape}")
        g = np.asarray(g, dtype=float)
        L = self.grid.lattice_action(g)
        if L is None:
            raise ValueError(f"FieldType.transform: g = {np.round(g, 6).tolist()} does not map the {self.grid} grid onto itself")
        H, W = x.shape[2], x.shape[3]
        centre = np.array([(H - 1) / 2, (W - 1) / 2])
        rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        p = np.stack([rows.ravel(), cols.ravel()], axis=1) - centre
        src_f = (np.linalg.solve(L.astype(float), p.T).T) + centre
        src = np.rint(src_f)
        if np.abs(src - src_f).max() > 1e-9:
            raise ValueError(f"FieldType.transform: rotating a {H}×{W} image about its centre does not map pixels to pixels")
        src = src.astype(np.int64)
        inside = (src[:, 0] >= 0) & (src[:, 0] < H) & (src[:, 1] >= 0) & (src[:, 1] < W)
        flat = x.reshape(x.shape[0], x.shape[1], H * W)
        index = torch.as_tensor(np.where(inside, src[:, 0] * W + src[:, 1], 0), device=x.device)
        moved = flat[:, :, index] * torch.as_tensor(inside, dtype=x.dtype, device=x.device)
        mix = torch.as_tensor(self.rho(g), dtype=x.dtype, device=x.device)
        return torch.einsum("oc,bcp->bop", mix, moved).reshape(x.shape)
