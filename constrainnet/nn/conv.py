r"""Equivariant maps between image reps of ``P4M(n)`` as circular convolutions.

A map W : V → V of the image rep of P4M(n) commutes with the translations,
so W[o, i] depends only on the displacement i − o (mod n per axis): it is a
circular convolution with a kernel K, W[o, i] = K[i − o]. Commuting with the
point group D4 as well makes K constant on the D4 orbits of displacements, so
with the orbit basis :math:`K[δ] = c_{orbit(δ)} / \sqrt{n^2 |D_4 δ|}`. Between m and n
copies of V (channels), W is the multi-channel convolution

.. math::
    y_p[o] = \sum_q \sum_\delta K_{pq}[\delta]\, x_q[o + \delta],

which ``torch.nn.functional.conv2d`` computes (a cross-correlation, as here)
after circular padding, at a cost of :math:`n^2 |window|` per channel pair instead of
the n⁴ of a dense matrix. Windows of ``FFT_MIN_KERNEL`` or more per side (up to
the whole n×n torus of a layer without ``support``) go through the Fourier
transform instead: by the correlation theorem ŷ_p = Σ_q conj(K̂_pq) x̂_q per
frequency, n² log n per channel plus n² per channel pair. The kernel is
gathered from the coefficients by a fixed (r, k²) expansion matrix: ``K = C @ E``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..groups import P4M
from ..reps import Rep, Vector

__all__ = ["KernelGrid", "is_image_rep", "kernel_grid", "kernel_expansion", "circular_conv", "FFT_MIN_KERNEL"]

# Kernel side from which circular_conv multiplies in Fourier space: on 2 CPU
# threads (batch 64, 16 → 16 channels, 32×32) conv2d takes 3.3 ms at k = 5,
# 8.8 ms at k = 9 and 147 ms at k = 32; the FFT path about 6.3 ms whatever k.
FFT_MIN_KERNEL = 9


def is_image_rep(rep: Rep) -> bool:
    """True for the image rep V of a ``P4M(n)`` group (one channel of an n×n image).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import P4M
        >>> V = cn.V(P4M(4))
        >>> is_image_rep(V), is_image_rep(V**2), is_image_rep(V**0)
        (True, False, False)
    """
    return isinstance(rep, Vector) and isinstance(rep.G, P4M) and rep.factor is None and rep.size == rep.G.d


@dataclass(frozen=True)
class KernelGrid:
    """The k×k kernel window of a circular convolution on an n×n image.

    Kernel position t (per axis) holds displacement t − ``left`` (mod n); the
    input is padded circularly by ``left`` before and ``right`` after on each axis.

    Attributes:
        n: the image side.
        size: k, the kernel side.
        left, right: the circular padding (left + right = k − 1).
    """

    n: int
    size: int
    left: int
    right: int

    @property
    def displacements(self) -> np.ndarray:
        """(k, k) flat displacement (δ_r mod n)·n + (δ_c mod n) of each kernel position."""
        d = (np.arange(self.size) - self.left) % self.n
        return d[:, None] * self.n + d[None, :]


def kernel_grid(n: int, displacements: np.ndarray) -> KernelGrid:
    """The smallest centred kernel window holding every given flat displacement (all of them: the n×n window).

    Args:
        n: the image side.
        displacements: flat displacements (δ_r mod n)·n + (δ_c mod n) the kernel must hold.

    Returns:
        A :class:`KernelGrid`: odd side 2h + 1 with h the largest :math:`|δ|` per axis
        (displacements taken in (−n/2, n/2]); or the whole n×n torus (side n,
        padding n//2 before) when that is smaller.

    Example:
        >>> kernel_grid(8, [0, 1, 8, 9])  # displacements (0, 0), (0, 1), (1, 0), (1, 1)
        KernelGrid(n=8, size=3, left=1, right=1)
    """
    d = np.asarray(displacements, dtype=np.int64).reshape(-1)
    if d.size == 0:
        return KernelGrid(n, 1, 0, 0)
    r, c = np.divmod(d, n)
    centred = np.abs(((np.concatenate([r, c]) + n // 2) % n) - n // 2)
    h = int(centred.max())
    if 2 * h + 1 <= n:
        return KernelGrid(n, 2 * h + 1, h, h)
    return KernelGrid(n, n, n // 2, n - 1 - n // 2)


def kernel_expansion(grid: KernelGrid, index: np.ndarray, values: np.ndarray, r: int) -> np.ndarray:
    """The (r, k²) matrix E with kernel = coefficients @ E: E[index[δ], t] = values[δ] at δ the displacement of position t.

    Args:
        grid: the kernel window.
        index: (n²,) basis index of each displacement, −1 outside the support.
        values: (n²,) the basis value of each displacement.
        r: number of basis maps.

    Example:
        >>> import numpy as np
        >>> g = KernelGrid(3, 1, 0, 0)
        >>> kernel_expansion(g, np.zeros(9, dtype=int), np.full(9, 0.5), 1).tolist()
        [[0.5]]
    """
    disp = grid.displacements.ravel()
    out = np.zeros((r, disp.size))
    k = np.asarray(index)[disp]
    inside = k >= 0
    out[k[inside], np.flatnonzero(inside)] = np.asarray(values)[disp][inside]
    return out


def circular_conv(x: torch.Tensor, kernel: torch.Tensor, grid: KernelGrid, bias: torch.Tensor | None = None) -> torch.Tensor:
    r"""y_p[o] = Σ_q Σ_t K[p, q, t] x_q[o + t − left] (+ b_p) with indices mod n: one ``conv2d`` after circular padding.

    Args:
        x: (batch, m, n, n) images.
        kernel: (n_out, m, k, k).
        grid: the kernel window (its padding).
        bias: optional (n_out,) per-channel bias, added inside the convolution.

    Shape:
        - Output: (batch, n_out, n, n)

    Example:
        >>> import torch
        >>> x = torch.arange(9.0).view(1, 1, 3, 3)
        >>> kernel = torch.zeros(1, 1, 3, 3); kernel[0, 0, 1, 2] = 1.0  # displacement (0, +1)
        >>> circular_conv(x, kernel, KernelGrid(3, 3, 1, 1))[0, 0].tolist()
        [[1.0, 2.0, 0.0], [4.0, 5.0, 3.0], [7.0, 8.0, 6.0]]
    """
    if grid.size >= FFT_MIN_KERNEL:
        return _fourier_correlation(x, kernel, grid, bias)
    pad = (grid.left, grid.right, grid.left, grid.right)
    if any(pad):
        x = F.pad(x, pad, mode="circular")
    return F.conv2d(x, kernel, bias)


def _fourier_correlation(x: torch.Tensor, kernel: torch.Tensor, grid: KernelGrid, bias: torch.Tensor | None) -> torch.Tensor:
    """:func:`circular_conv` by the correlation theorem: ŷ_p = Σ_q conj(K̂_pq) x̂_q, with K laid on the n×n torus."""
    n, k = grid.n, grid.size
    # kernel position t holds displacement (t − left) mod n: pad to n×n, then roll position t to t − left
    periodic = F.pad(kernel, (0, n - k, 0, n - k)) if k < n else kernel
    periodic = torch.roll(periodic, shifts=(-grid.left, -grid.left), dims=(2, 3))
    spectrum = torch.einsum("bqxy,pqxy->bpxy", torch.fft.rfft2(x), torch.fft.rfft2(periodic).conj())
    y = torch.fft.irfft2(spectrum, s=(n, n))
    return y if bias is None else y + bias.view(1, -1, 1, 1)
