"""GroupAugment (MLP+Aug): batches are exactly ρ_in(g) x, ρ_out(g) y; seeded; fit applies it; it teaches the symmetry."""

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.augment import GroupAugment
from constrainnet.datasets import O5Synthetic, Standardize
from constrainnet.groups import O, S, SO
from constrainnet.testing import equivariance_error
from constrainnet.train import fit

V3 = cn.V(O(3))


@pytest.fixture
def one_thread():
    """Tiny models train faster on one thread (and do not fight other processes for the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("pool", [64, None])
def test_augmented_batches_are_rho_g_x_and_rho_g_y(pool):
    rep_in, rep_out = 2 * V3**0 + 2 * V3, V3**2 + V3
    aug = GroupAugment(rep_in, rep_out, pool=pool, seed=3)
    aug.set_epoch(0)
    x = torch.randn(7, rep_in.size, dtype=torch.float64)
    y = torch.randn(7, rep_out.size, dtype=torch.float64)
    xa, ya = aug(x, y)
    gs = aug.last_elements
    assert gs.shape == (7, 3, 3)
    assert len({g.tobytes() for g in gs}) > 1  # one element per sample, not one per batch
    for i, g in enumerate(gs):
        np.testing.assert_allclose(xa[i].numpy(), rep_in.rho(g) @ x[i].numpy(), atol=1e-12)
        np.testing.assert_allclose(ya[i].numpy(), rep_out.rho(g) @ y[i].numpy(), atol=1e-12)
        np.testing.assert_allclose(g @ g.T, np.eye(3), atol=1e-10)  # elements of O(3)
    if pool is not None:
        assert aug.last_indices.shape == (7,)


def test_draws_are_reproducible_per_epoch_and_follow_x_dtype():
    a, b = GroupAugment(V3, V3, pool=32, seed=1), GroupAugment(V3, V3, pool=32, seed=1)
    x = torch.randn(5, 3)
    a.set_epoch(4)
    b.set_epoch(4)
    first, second = a(x, x), b(x, x)
    assert all(torch.equal(u, v) for u, v in zip(first, second))
    assert first[0].dtype == torch.float32
    a.set_epoch(5)
    assert not torch.equal(a(x, x)[0], first[0])
    assert not torch.equal(GroupAugment(V3, V3, pool=32, seed=2)(x, x)[0], first[0])


def test_a_small_finite_group_is_enumerated_into_the_pool():
    W = cn.V(S(3))
    aug = GroupAugment(W, W**0, pool=10, seed=0)
    assert aug._elements.shape == (6, 3, 3)
    sampled = GroupAugment(W, W**0, pool=4, seed=0)  # 6 > 4 elements: sampled
    assert sampled._elements.shape == (4, 3, 3)


def test_fit_applies_augment_to_every_training_batch_and_sets_its_epoch():
    data = O5Synthetic(20, seed=0)

    class Recorder:
        def __init__(self):
            self.epochs, self.batches = [], 0

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

        def __call__(self, x, y):
            self.batches += 1
            return x, torch.zeros_like(y)  # targets replaced: the model must learn 0

    rec = Recorder()
    torch.manual_seed(0)
    model = torch.nn.Linear(10, 1)
    fit(model, data, data, epochs=3, batch_size=8, progress=False, augment=rec)
    assert rec.epochs == [0, 1, 2] and rec.batches == 9  # 3 batches (8, 8, 4) per epoch, never val


def test_fit_refuses_a_bad_augment():
    data = O5Synthetic(8, seed=0)
    model = torch.nn.Linear(10, 1)
    with pytest.raises(TypeError, match="augment: expected None or a callable, got str"):
        fit(model, data, epochs=1, progress=False, augment="O(5)")
    with pytest.raises(ValueError, match=r"augment: expected tensors of the batch's shapes \(8, 10\), \(8, 1\), got \(8, 9\)"):
        fit(model, data, epochs=1, batch_size=8, progress=False, augment=lambda x, y: (x[:, :9], y))
    with pytest.raises(TypeError, match="augment: expected a callable returning an \\(x, y\\) pair of tensors, got Tensor"):
        fit(model, data, epochs=1, progress=False, augment=lambda x, y: x)


def test_mlp_aug_is_more_invariant_than_the_mlp(one_thread):
    # O5Synthetic is O(5)-invariant: augmentation shows the MLP each sample's orbit
    train = O5Synthetic(200, seed=0)
    G = train.group
    errors = []
    for augment in (None, GroupAugment(train.rep_in, train.rep_out, seed=0)):
        torch.manual_seed(0)
        model = Standardize(cn.nn.MLP(train.rep_in, train.rep_out, G, ch=32, num_layers=2), train.stats)
        fit(model, train, epochs=150, batch_size=50, progress=False, augment=augment)
        errors.append(equivariance_error(model, group=G, n_samples=16, rng=0))
    plain, augmented = errors
    assert augmented < 0.6 * plain, errors


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((3, V3), {}, TypeError, "expected rep_in to be a Rep, got int"),
        ((V3, V3), {"group": "O(3)"}, TypeError, "expected group to be a Group or None, got str"),
        ((V3, cn.V(SO(3))), {}, ValueError, "expected rep_out to be a rep of O\\(3\\), got a rep of SO\\(3\\)"),
        ((V3, V3), {"pool": 0}, ValueError, "pool: expected a positive int or None, got 0"),
        ((V3, V3), {"pool": 2.5}, TypeError, "pool: expected a positive int or None, got float 2.5"),
        ((V3, V3), {"seed": -1}, ValueError, "seed: expected a non-negative int, got -1"),
        ((V3**6, V3), {"pool": 4096}, ValueError, "GiB of ρ matrices, expected at most 1 GiB"),
    ],
)
def test_bad_arguments_are_refused(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        GroupAugment(*args, **kwargs)


def test_bad_batches_are_refused():
    aug = GroupAugment(V3, V3**0, pool=4)
    with pytest.raises(ValueError, match=r"expected x of shape \(batch, 3\), got \(2, 4\)"):
        aug(torch.zeros(2, 4), torch.zeros(2, 1))
    with pytest.raises(ValueError, match="expected x and y of one batch length, got 2 and 3"):
        aug(torch.zeros(2, 3), torch.zeros(3, 1))
    with pytest.raises(TypeError, match="expected y to be a torch.Tensor, got ndarray"):
        aug(torch.zeros(2, 3), np.zeros((2, 1)))
