"""O(2) inside O(3): frames, flips and Schur's lemma
=================================================

O(2) inside O(3): equivariant frames of 3-D shapes, and what linear maps cannot see.

Three demonstrations:

1. Frames. A shape (a cloud of points) is given by O(3) features, its first
   three moments in ``V + V**2 + V**3`` of O(3), restricted to the "cone" O(2)
   (rotations about z and mirrors through vertical planes). An O(2)-invariant
   embedding and an O(2)-equivariant head that outputs two planar vectors;
   Gram–Schmidt turns those into an element F of O(2) whose determinant is
   the flip. Checked on random O(2) elements, flips included:
   F(ρ(h) x) = h F(x), and the embedding does not move.
2. The two O(2)s of O(3). The same reps restricted to the "dihedral" O(2)
   (π-rotations about horizontal axes instead of mirrors) behave differently:
   the pseudo-scalar det is invariant there and odd on the cone.
3. Schur's lemma. With SO(2) as the group and two planar vectors u, v plus
   their dot product as input, the basis of a single Linear map to scalars
   is supported on the invariant channel u·v alone (no map from a vector to
   a scalar commutes with rotations), so it cannot detect a flip; a
   bilinear layer learns the flip-odd, rotation-invariant signed area u × v.
   With O(2) as the group even the bilinear model cannot (u × v is then a
   pseudo-scalar, not a scalar).

Run: python examples/o2_frames.py --out pictures/ --seed 0 [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import constrainnet as cn
from constrainnet.groups import O, SO, o2_in_o3

V3 = cn.V(O(3))
SHAPE_REP = V3 + V3**2 + V3**3

#: Defaults under ``--quick`` (how the docs gallery runs it): fewer samples, steps and elements, the same outcomes
#: (as checked by tests/examples/test_o2_frames.py at these sizes).
QUICK = {"samples": 256, "steps": 200, "elements": 8}


def moments(points: np.ndarray) -> np.ndarray:
    """(n, 3) points -> their first three moments, a vector of ``V + V**2 + V**3`` (3 + 9 + 27)."""
    m1 = points.mean(axis=0)
    m2 = np.einsum("ni,nj->ij", points, points) / len(points)
    m3 = np.einsum("ni,nj,nk->ijk", points, points, points) / len(points)
    return np.concatenate([m1, m2.ravel(), m3.ravel()])


def gram_schmidt(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Columns e₁ = u/|u|, e₂ = (v − (v·e₁)e₁)/|…|: a (…, 2, 2) element of O(2), det = sign(u × v).

    Equivariant: for h in O(2), (h u, h v) gives h F.
    """
    e1 = u / u.norm(dim=-1, keepdim=True)
    w = v - (v * e1).sum(-1, keepdim=True) * e1
    e2 = w / w.norm(dim=-1, keepdim=True)
    return torch.stack([e1, e2], dim=-1)


class FrameModel(torch.nn.Module):
    """An O(2)-invariant embedding and an O(2)-equivariant frame of a shape, for O(2) the cone in O(3).

    ``embed`` maps the shape features to invariant scalars; ``head`` to two
    copies of V restricted to the cone, whose (x, y) parts are two planar
    vectors (z is fixed by the cone, so dropping it is equivariant).
    """

    def __init__(self, group: cn.groups.Group, embedding: int = 8, ch: int = 64) -> None:
        super().__init__()
        rep_in = SHAPE_REP.restrict(group)
        f64 = {"dtype": torch.float64}
        self.embed = cn.nn.EMLP(rep_in, embedding * cn.Scalar(group), group=group, ch=ch, num_layers=1, **f64)
        self.head = cn.nn.EMLP(rep_in, 2 * V3.restrict(group), group=group, ch=ch, num_layers=1, **f64)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        vectors = self.head(x)
        return self.embed(x), gram_schmidt(vectors[..., 0:2], vectors[..., 3:5])


def frame_checks(model: FrameModel, shapes: np.ndarray, group: cn.groups.Group, rng: np.random.Generator, n: int) -> dict:
    """Largest errors of F(ρ(h)x) = h₂ F(x) and emb(ρ(h)x) = emb(x) over n random elements h (h₂ its xy block)."""
    rep = SHAPE_REP.restrict(group)
    x = torch.tensor(shapes)
    with torch.no_grad():
        emb, frame = model(x)
        frame_err, emb_err, flips, det_flipped = 0.0, 0.0, 0, []
        for h in group.samples(n, rng):
            emb_h, frame_h = model(torch.tensor(rep.rho_apply(h, shapes)))
            h2 = torch.tensor(h[:2, :2])
            frame_err = max(frame_err, float((frame_h - h2 @ frame).abs().max()))
            emb_err = max(emb_err, float((emb_h - emb).abs().max() / emb.abs().max()))
            if np.linalg.det(h) < 0:
                flips += 1
                det_flipped.append(bool(torch.allclose(torch.linalg.det(frame_h), -torch.linalg.det(frame), atol=1e-9)))
    return {"frame_error": frame_err, "embedding_error": emb_err, "flips_tested": flips, "flip_reverses_det": all(det_flipped)}


def train_scalar(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> tuple[float, np.ndarray]:
    """Full-batch Adam on the MSE; returns the final relative MSE (MSE / variance of y) and the predictions."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x)[:, 0], y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = model(x)[:, 0]
        return float(torch.nn.functional.mse_loss(pred, y) / y.var(unbiased=False)), pred.numpy()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="folder for the pictures (default: current folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=512, help="pairs (u, v) for the signed-area task")
    parser.add_argument("--steps", type=int, default=300, help="Adam steps of the signed-area models")
    parser.add_argument("--elements", type=int, default=16, help="random O(2) elements for the equivariance checks")
    parser.add_argument("--quick", action="store_true", help="the docs gallery's shorter run: defaults %s" % QUICK)
    args = parser.parse_args(argv)
    if args.quick:  # QUICK replaces the defaults; arguments given explicitly still win
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    results: dict = {}

    # 1. frames of shapes under the cone O(2)
    cone, dihedral = o2_in_o3("cone"), o2_in_o3("dihedral")
    clouds = rng.normal(size=(6, 7, 3)) + np.array([0.3, 0.0, 0.5])
    shapes = np.array([moments(c) for c in clouds])
    model = FrameModel(cone)
    checks = frame_checks(model, shapes, cone, rng, args.elements)
    results.update(checks)
    print(
        f"1. cone O(2): frame error {checks['frame_error']:.2e}, embedding error {checks['embedding_error']:.2e} "
        f"over {args.elements} random elements ({checks['flips_tested']} flips); "
        f"a flip reverses det F: {checks['flip_reverses_det']}"
    )

    # 2. the two O(2)s: the pseudo-scalar, and how many invariants the shape features have
    pseudo = cn.PseudoScalar(O(3))
    results["pseudo_invariant_dim"] = {H.name: pseudo.restrict(H).equivariant_basis().dim for H in (cone, dihedral)}
    results["shape_invariant_dim"] = {H.name: SHAPE_REP.restrict(H).equivariant_basis().dim for H in (cone, dihedral)}
    flip_sign = {H.name: float(pseudo.rho(H.discrete_generators[0])[0, 0]) for H in (cone, dihedral)}
    print(
        f"2. pseudo-scalar det: invariant subspace dim {results['pseudo_invariant_dim']} "
        f"(the flip acts as {flip_sign}); invariants of V + V**2 + V**3: {results['shape_invariant_dim']}"
    )

    # 3. Schur's lemma: signed area of two planar vectors under SO(2), then O(2). The input is
    # u, v and their dot product u·v as one invariant channel (rep 2V + scalar).
    uv = rng.normal(size=(args.samples, 4))
    dot = uv[:, 0] * uv[:, 2] + uv[:, 1] * uv[:, 3]
    area = uv[:, 0] * uv[:, 3] - uv[:, 1] * uv[:, 2]
    x, y = torch.tensor(np.column_stack([uv, dot])), torch.tensor(area)
    f64 = {"dtype": torch.float64}
    relative, predictions = {}, {}
    for group in (SO(2), O(2)):
        rep_in, scalar = 2 * cn.V(group) + cn.Scalar(group), cn.Scalar(group)
        basis = np.asarray((rep_in >> scalar).equivariant_basis())
        results[f"linear_basis_{group.name}"] = basis
        results[f"bilinear_products_dim_{group.name}"] = (cn.V(group) ** 2 >> scalar).equivariant_basis().dim
        for name, layer in (("linear", cn.nn.Linear), ("bilinear", cn.nn.BiLinear)):
            torch.manual_seed(args.seed)
            relative[f"{name}_{group.name}"], predictions[f"{name}_{group.name}"] = train_scalar(
                layer(rep_in, scalar, **f64), x, y, args.steps, lr=0.05
            )
    results["relative_mse"] = relative
    basis = results["linear_basis_SO(2)"]
    print(
        f"3. signed area u × v from (u, v, u·v): the basis of a Linear 2V + scalar -> scalar under SO(2) is "
        f"{np.round(basis.ravel(), 6).tolist()}: it reads the invariant u·v only (Schur), blind to flips; "
        f"V ⊗ V -> scalar has dim {results['bilinear_products_dim_SO(2)']} under SO(2) (u·v and u × v) "
        f"and {results['bilinear_products_dim_O(2)']} under O(2) (u·v only)"
    )
    for key, value in relative.items():
        print(f"   relative MSE {key:<16} {value:.3g}")

    results["pictures"] = _draw(Path(args.out), model, clouds, cone, rng, area, predictions)
    results["seconds"] = time.perf_counter() - start
    print(f"pictures: {', '.join(str(p) for p in results['pictures'])} ({results['seconds']:.1f} s)")
    return results


def _draw(out: Path, model: FrameModel, clouds: np.ndarray, cone, rng, area: np.ndarray, predictions: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    rotation = cone.samples(1, rng)[0]
    while np.linalg.det(rotation) < 0:
        rotation = cone.samples(1, rng)[0]
    flip = rotation @ np.diag([1.0, -1.0, 1.0])
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    for ax, (g, title) in zip(axes, ((np.eye(3), "shape"), (rotation, "rotated about z"), (flip, "rotated and mirrored"))):
        pts = clouds[0] @ g.T
        with torch.no_grad():
            _, frame = model(torch.tensor(moments(pts))[None])
        f = frame[0].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], c=pts[:, 2], cmap="viridis")
        for k, colour in enumerate(("tab:red", "tab:blue")):
            ax.annotate("", 1.5 * f[:, k], (0, 0), arrowprops={"arrowstyle": "->", "color": colour, "lw": 2})
        ax.set_title(f"{title}: det F = {np.linalg.det(f):+.0f}", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
    fig.suptitle("equivariant frame (e₁ red, e₂ blue) of a point cloud under the cone O(2)")
    fig.tight_layout()
    frames = out / "o2_frames.png"
    fig.savefig(frames, dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, group in zip(axes, (SO(2), O(2))):
        pred = predictions[f"bilinear_{group.name}"]
        ax.scatter(area, pred, s=4)
        ax.plot([area.min(), area.max()], [area.min(), area.max()], c="gray", lw=1)
        ax.set_xlabel("u × v")
        ax.set_ylabel("BiLinear prediction")
        ax.set_title(f"group {group.name}", fontsize=10)
    fig.suptitle("a flip-odd invariant: learnable under SO(2), a pseudo-scalar under O(2)")
    fig.tight_layout()
    schur = out / "o2_signed_area.png"
    fig.savefig(schur, dpi=100)
    plt.close(fig)
    return [frames, schur]


if __name__ == "__main__":
    main()
