"""check_learnable: hand-computed cases, the square/rectangle tasks, and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

import constrainnet as cn
from constrainnet.errors import GroupError, RepError
from constrainnet.groups import O, S, SO
from constrainnet.symmetry import Learnability, check_learnable, induced_permutation, point_group
from shapes import RECTANGLE, SQUARE

P = SO(3) * S(4)
POSITIONS = cn.V(P, factor=0) * cn.V(P, factor=1)


def _proper_symmetries(points: np.ndarray) -> np.ndarray:
    """The stabilizer of the positions in SO(3) × S(4): proper symmetries paired with their relabelling."""
    out = []
    for g in point_group(points).elements():
        if np.linalg.det(g) > 0:
            out.append(scipy.linalg.block_diag(g, np.eye(len(points))[induced_permutation(g, points)]))
    return np.array(out)


def test_mirror_in_the_plane_by_hand():
    V = cn.V(O(2))
    mirror = np.diag([1.0, -1.0])
    # y = (2, 3): the mirror sends it to (2, -3); the average (2, 0) is the best, error (0² + 3²) / 2
    report = check_learnable([mirror], [1.0, 0.0], V, [2.0, 3.0], V)
    assert isinstance(report, Learnability) and not report.learnable
    assert report.order == 2
    np.testing.assert_allclose(report.best_target, [2.0, 0.0], atol=1e-12)
    assert report.residual == pytest.approx(4.5, rel=1e-12)
    assert "learnable=False" in repr(report) and "residual=4.5" in repr(report)
    ok = check_learnable([mirror], [1.0, 0.0], V, [5.0, 0.0], V)
    assert ok.learnable and ok.residual == 0.0


def test_square_to_rectangle_is_stuck_and_rectangle_to_square_is_not():
    x_square = SQUARE.T.ravel()
    x_rect = RECTANGLE.T.ravel()
    to_rect = check_learnable(_proper_symmetries(SQUARE), x_square, POSITIONS, x_rect - x_square, POSITIONS)
    # the quarter turn swaps the x and y stretches (+0.5, -0.5): the average displacement is 0,
    # so the residual is the whole mean square 8 · 0.5² / 12
    assert not to_rect.learnable and to_rect.order == 8
    np.testing.assert_allclose(to_rect.best_target, 0, atol=1e-12)
    assert to_rect.residual == pytest.approx(8 * 0.25 / 12, rel=1e-12)
    to_square = check_learnable(_proper_symmetries(RECTANGLE), x_rect, POSITIONS, x_square - x_rect, POSITIONS)
    assert to_square.learnable and to_square.order == 4 and to_square.residual < 1e-25


def test_residual_is_the_loss_of_the_best_equivariant_output_in_torch_convention():
    # any output fixed by the symmetries does no better than best_target under torch's MSE
    V = cn.V(O(2))
    report = check_learnable([np.diag([1.0, -1.0])], [1.0, 0.0], V, [2.0, 3.0], V)
    target = torch.tensor([2.0, 3.0], dtype=torch.float64)
    best = torch.nn.functional.mse_loss(torch.tensor(report.best_target), target).item()
    assert best == pytest.approx(report.residual, rel=1e-12)
    for a in np.linspace(-3, 5, 9):
        assert torch.nn.functional.mse_loss(torch.tensor([a, 0.0], dtype=torch.float64), target).item() >= best - 1e-12


def test_refusals():
    V = cn.V(O(2))
    quarter = np.array([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(RepError, match=r"symmetries\[1\]"):
        check_learnable([np.eye(2), quarter], [1.0, 0.0], V, [1.0, 0.0], V)
    irrational = np.array([[np.cos(1.0), -np.sin(1.0)], [np.sin(1.0), np.cos(1.0)]])
    with pytest.raises(GroupError, match="finite"):
        check_learnable([irrational], [0.0, 0.0], V, [1.0, 0.0], V)
    with pytest.raises(GroupError, match="element"):
        check_learnable([2 * np.eye(2)], [0.0, 0.0], V, [1.0, 0.0], V)
    with pytest.raises(ValueError, match="shape"):
        check_learnable([np.eye(2)], [0.0, 0.0, 0.0], V, [1.0, 0.0], V)
