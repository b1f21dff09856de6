"""fit on several processes (torch.distributed, gloo) equals one process; checkpoints resume bit-identically; DataLoaders train."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

import constrainnet as cn
from constrainnet.checkpoint import load_checkpoint, save_checkpoint
from constrainnet.datasets import Dipole, Standardize
from constrainnet.groups import SO
from constrainnet.train import fit

# One training run, as each process of a torchrun job (or a single process) runs it:
# float64, so the sums that DDP's all-reduce reorders agree to rounding (1e-10).
_RUN = textwrap.dedent(
    """
    import sys, torch
    from constrainnet.datasets import Dipole, Standardize
    from constrainnet.distributed import init_from_env, finish, is_main_process
    from constrainnet.train import fit

    init_from_env("cpu")
    data = Dipole(96, seed=0)
    data.X, data.Y = data.X.double(), data.Y.double()
    torch.manual_seed(0)
    core = torch.nn.Sequential(torch.nn.Linear(20, 24), torch.nn.SiLU(), torch.nn.Linear(24, 3)).double()
    model = Standardize(core, data.stats)
    history = fit(model, data, epochs=3, batch_size=32, seed=5, progress=False)
    if is_main_process():
        torch.save({"params": [p.detach() for p in model.parameters()], "loss": history["train_loss"]}, sys.argv[1])
    finish()
    """
)


def _run(tmp_path, nproc: int) -> dict:
    script, out = tmp_path / "run.py", tmp_path / f"out{nproc}.pt"
    script.write_text(_RUN)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if nproc == 1:
        command = [sys.executable, str(script), str(out)]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", str(script), str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command[1:4])} exited with {done.returncode}:\n{done.stderr[-4000:]}"
    return torch.load(out, weights_only=True)


def test_two_processes_give_the_parameters_of_one(tmp_path):
    one, two = _run(tmp_path, 1), _run(tmp_path, 2)
    assert len(one["params"]) == len(two["params"]) == 4
    for a, b in zip(one["params"], two["params"]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(torch.tensor(one["loss"]), torch.tensor(two["loss"]), rtol=1e-10, atol=0)
    # and training moved them: the comparison is not between two initial states
    torch.manual_seed(0)
    init = torch.nn.Linear(20, 24).double().weight
    assert (one["params"][0] - init).abs().max() > 1e-3


def _emlp_and_data():
    data = Dipole(40, seed=1)
    torch.manual_seed(3)
    V = cn.V(SO(3))
    model = Standardize(cn.nn.EMLP(data.rep_in, data.rep_out, group=SO(3), ch=16, num_layers=1), data.stats)
    assert data.rep_out == V
    return model, data


def test_resumed_run_ends_identical_to_an_uninterrupted_one(tmp_path):
    full, data = _emlp_and_data()
    history = fit(full, data, val=data, epochs=4, batch_size=16, seed=2, progress=False)

    path = tmp_path / "run.pt"
    first, _ = _emlp_and_data()
    fit(first, data, val=data, epochs=2, batch_size=16, seed=2, progress=False, checkpoint=path)  # "killed" after epoch 2
    resumed, _ = _emlp_and_data()  # a fresh process: the same model built again
    resumed_history = fit(resumed, data, val=data, epochs=4, batch_size=16, seed=2, progress=False, checkpoint=path, resume=True)

    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name
    assert resumed_history == history
    assert load_checkpoint(path, resumed, torch.optim.Adam(resumed.parameters()), settings=_settings(2, 16))["epoch"] == 4


def _settings(seed, batch_size, lr=3e-3):
    return {"seed": seed, "batch_size": batch_size, "lr": lr, "weight_decay": 0.0, "processes": 1, "penalty": None, "augment": None}


def test_resuming_with_another_augmentation_or_penalty_is_refused(tmp_path):
    from constrainnet.augment import GroupAugment

    model, data = _emlp_and_data()
    path = tmp_path / "run.pt"
    fit(model, data, epochs=1, batch_size=16, seed=2, progress=False, checkpoint=path)
    augment = GroupAugment(data.rep_in, data.rep_out, seed=0)
    with pytest.raises(ValueError, match=r"augment: saved None, now 'GroupAugment\(5\*Scalar \+ 5\*V, V"):
        fit(model, data, epochs=2, batch_size=16, seed=2, progress=False, checkpoint=path, resume=True, augment=augment)
    with pytest.raises(ValueError, match=r"penalty: saved None, now '.*penalty_of_my_own'"):

        def penalty_of_my_own():
            return torch.zeros(())

        fit(model, data, epochs=2, batch_size=16, seed=2, progress=False, checkpoint=path, resume=True, penalty=penalty_of_my_own)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    model, data = _emlp_and_data()
    path = tmp_path / "run.pt"
    fit(model, data, epochs=1, batch_size=16, seed=2, progress=False, checkpoint=path)
    with pytest.raises(ValueError, match="other settings.*seed: saved 2, now 3"):
        fit(model, data, epochs=2, batch_size=16, seed=3, progress=False, checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="resume=True needs the checkpoint"):
        fit(model, data, epochs=2, resume=True, progress=False)
    (tmp_path / "junk.pt").write_bytes(b"")
    torch.save({"format": 99}, tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="expected a checkpoint of format 1"):
        load_checkpoint(tmp_path / "junk.pt", model, torch.optim.Adam(model.parameters()), settings={})


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters())
    path = tmp_path / "run.pt"
    save_checkpoint(path, model, opt, epoch=1, history={"train_loss": [1.0]}, settings={})

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, opt, epoch=2, history={"train_loss": [1.0, 0.5]}, settings={})
    monkeypatch.undo()
    assert load_checkpoint(path, model, opt, settings={})["epoch"] == 1  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary left


def test_fit_takes_a_dataloader_and_equals_the_dataset_path():
    data = Dipole(64, seed=0)
    torch.manual_seed(0)
    a = Standardize(torch.nn.Linear(20, 3), data.stats)
    b = Standardize(torch.nn.Linear(20, 3), data.stats)
    b.load_state_dict(a.state_dict())
    sampler = torch.utils.data.DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.X, data.Y), batch_size=16, sampler=sampler)
    ha = fit(a, data, epochs=3, batch_size=16, seed=4, progress=False)
    hb = fit(b, loader, epochs=3, progress=False)
    assert ha["train_loss"] == pytest.approx(hb["train_loss"], rel=1e-6)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


def test_batch_size_must_split_over_the_processes(monkeypatch):
    import constrainnet.distributed as distributed

    monkeypatch.setattr(distributed, "world", lambda: (0, 3))
    with pytest.raises(ValueError, match="divisible by the 3 processes, got 32"):
        fit(torch.nn.Linear(20, 3), Dipole(8), batch_size=32, progress=False)


def test_command_on_two_processes_prints_the_line_of_one(tmp_path):
    tiny = ["--n-train", "32", "--n-test", "32", "--epochs", "2", "--ch", "8", "--num-layers", "1", "--batch-size", "16", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    outs = []
    for extra in ([], ["--nproc", "2"]):
        done = subprocess.run(
            [sys.executable, "-m", "constrainnet", "train", "dipole", *tiny, *extra],
            capture_output=True, text=True, env=env, timeout=300, check=True,
        )  # fmt: skip
        outs.append(done.stdout)
    last = [out.strip().splitlines()[-1].split(", trained in")[0] for out in outs]
    assert last[0].startswith("test MSE ") and last[0] == last[1], outs
    assert ", 2 processes" in outs[1] and outs[1].count("test MSE") == 1  # rank 0 alone prints
