"""What every dataset shares: seeds, dtypes, items, the target function and argument checks."""

import numpy as np
import pytest
import torch

from constrainnet.datasets import Dipole, Inertia, O5Synthetic, ParticleInteraction
from constrainnet.errors import RepMismatchError

DATASETS = {
    "Dipole": Dipole,
    "O5Synthetic": O5Synthetic,
    "Inertia": Inertia,
    "ParticleInteraction": ParticleInteraction,
}
params = pytest.mark.parametrize("cls", DATASETS.values(), ids=DATASETS.keys())


@params
def test_same_seed_same_data_other_seed_other_data(cls):
    a, b, c = cls(20, seed=9), cls(20, seed=9), cls(20, seed=10)
    assert torch.equal(a.X, b.X) and torch.equal(a.Y, b.Y)
    assert torch.equal(a.stats.scale_in, b.stats.scale_in)
    assert not torch.equal(a.X, c.X)


@params
def test_shapes_dtypes_and_items(cls):
    data = cls(12)
    assert data.X.dtype == torch.float32 and data.Y.dtype == torch.float32
    assert data.X.shape == (12, data.rep_in.size) and data.Y.shape == (12, data.rep_out.size)
    assert data.rep_in.G == data.group and data.rep_out.G == data.group
    assert len(data) == 12
    x, y = data[3]
    assert torch.equal(x, data.X[3]) and torch.equal(y, data.Y[3])
    xb, yb = next(iter(torch.utils.data.DataLoader(data, batch_size=5)))
    assert xb.shape == (5, data.rep_in.size) and yb.shape == (5, data.rep_out.size)
    assert type(data).__name__ in repr(data)


@params
def test_float64_is_the_float32_data_before_the_cast(cls):
    d32, d64 = cls(10, seed=1), cls(10, seed=1, dtype=torch.float64)
    assert d64.X.dtype == torch.float64 and d64.stats.mean_in.dtype == torch.float64
    assert torch.equal(d64.X.float(), d32.X) and torch.equal(d64.Y.float(), d32.Y)


@params
def test_target_reproduces_Y_and_checks_width(cls):
    data = cls(6, dtype=torch.float64)
    np.testing.assert_array_equal(data.target(data.X), data.Y.numpy())
    assert data.target(data.X.numpy()[0]).shape == (data.rep_out.size,)
    with pytest.raises(RepMismatchError, match=f"width {data.rep_in.size}"):
        data.target(np.zeros((2, data.rep_in.size + 1)))


@params
@pytest.mark.parametrize(
    "kwargs, exc, text",
    [
        ({"n": 0}, ValueError, "positive int"),
        ({"n": -3}, ValueError, "positive int"),
        ({"n": 2.0}, TypeError, "positive int"),
        ({"n": True}, TypeError, "positive int"),
        ({"n": 4, "seed": -1}, ValueError, "seed"),
        ({"n": 4, "seed": 1.5}, TypeError, "seed"),
        ({"n": 4, "dtype": torch.int64}, TypeError, "floating-point"),
        ({"n": 4, "dtype": "float32"}, TypeError, "floating-point"),
    ],
)
def test_bad_arguments(cls, kwargs, exc, text):
    with pytest.raises(exc, match=text):
        cls(**kwargs)
