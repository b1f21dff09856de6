"""Steerable-layer tests run torch on one thread.

Their tensors are tiny (a few channels of ≤ 11×11 pixels): on a busy two-core
machine torch's OpenMP pool makes each such conv2d ~100× slower (30 ms instead
of 0.3 ms, threads waiting on each other), and threads buy nothing at this
size. The previous setting is restored after each module.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
