"""constrainnet.reproduce: the paper's numbers as shipped, the grid, one cell, the command; fit(restore_best=True)."""

from __future__ import annotations

import io
import math
import subprocess
import sys

import pytest
import torch

from constrainnet.cli import build_parser, main
from constrainnet.datasets import Dipole, Standardize
from constrainnet.reproduce import (
    PAPER_SETTINGS,
    TASK_METHODS,
    grid,
    paper_epochs,
    paper_results,
    reproduce,
    run_cell,
)
from constrainnet.train import evaluate, fit

# Copied by hand from /work/shared/anchors/emlp/paper_results.md (sections 3a and 3b), not from the CSV:
# (table, task, method, n_train) -> the table's text, mean ± std.
HAND_COPIED = {
    ("data_efficiency", "O5Synthetic", "MLP", 30): "28.1 ± 3.8",
    ("data_efficiency", "O5Synthetic", "MLP+Aug", 300): "0.0936 ± 0.013",
    ("data_efficiency", "O5Synthetic", "EMLP-SO(5)", 100): "0.0415 ± 0.00049",
    ("data_efficiency", "O5Synthetic", "EMLP-O(5)", 10000): "0.013 ± 0.01",
    ("data_efficiency", "Inertia", "MLP", 1000): "3.24 ± 0.0031",
    ("data_efficiency", "Inertia", "MLP+Aug", 30): "4.64 ± 0.039",
    ("data_efficiency", "Inertia", "EMLP-SO(3)", 30000): "0.0153 ± 0.00099",
    ("data_efficiency", "Inertia", "EMLP-O(3)", 1000): "0.136 ± 0.053",
    ("data_efficiency", "ParticleInteraction", "MLP", 3000): "0.0504 ± 0.0045",
    ("data_efficiency", "ParticleInteraction", "EMLP-SO+(1,3)", 1000): "0.00033 ± 0.0001",
    ("data_efficiency", "ParticleInteraction", "EMLP-SO(1,3)", 300): "0.00258 ± 0.0003",
    ("data_efficiency", "ParticleInteraction", "EMLP-O(1,3)", 30000): "0.000158 ± 1.9e-05",
    ("data_efficiency", "ParticleInteraction", "MLP+Aug", 10000): "0.0134 ± 0.0027",
    ("pendulum", "DoubleSpringPendulum", "HNN-EMLP-O(2)", 500): "0.0121 ± 0.0018",
    ("pendulum", "DoubleSpringPendulum", "HNN-EMLP-D2", 500): "0.086 ± 0.145",
    ("pendulum", "DoubleSpringPendulum", "HNN-MLP", 500): "0.0281 ± 0.0011",
    ("pendulum", "DoubleSpringPendulum", "NODE-EMLP-SO(2)", 500): "0.0518 ± 0.0357",
    ("pendulum", "DoubleSpringPendulum", "NODE-MLP", 500): "0.0482 ± 0.0002",
}


def _row(table, task, method, n_train=None):
    rows = [r for r in paper_results(table, task) if r.method == method and r.n_train == n_train]
    assert len(rows) == 1, (table, task, method, n_train, rows)
    return rows[0]


# -- the paper's numbers -----------------------------------------------------------
@pytest.mark.parametrize("key", sorted(HAND_COPIED), ids=lambda k: f"{k[1]}-{k[2]}-{k[3]}")
def test_csv_holds_the_papers_numbers(key):
    row = _row(*key)
    mean, std = HAND_COPIED[key].split(" ± ")
    assert (row.mean, row.std, row.text) == (float(mean), float(std), HAND_COPIED[key])
    assert "b80815b" in row.source


def test_equivariance_table_keeps_the_papers_text():
    assert _row("equivariance", "O5Synthetic", "MLP").mean == 0.08
    assert _row("equivariance", "Inertia", "MLP+Aug").mean == 0.042
    assert _row("equivariance", "O5Synthetic", "EMLP").text == "~1.2e-7"
    lorentz = _row("equivariance", "ParticleInteraction", "EMLP")
    assert lorentz.mean is None and lorentz.text == "2.4e-3 to 6.6e-3"


def test_every_cell_of_table_3a_with_the_papers_epochs():
    rows = paper_results("data_efficiency")
    assert len(rows) == 7 * (4 + 4 + 5)
    cells = {(r.task, r.method, r.n_train): r.epochs for r in rows}
    expected_epochs = {30: 1000, 100: 1000, 300: 1000, 1000: 900, 3000: 300, 10000: 90, 30000: 30}  # by hand
    for task, methods in TASK_METHODS.items():
        for method in methods:
            for n, epochs in expected_epochs.items():
                assert cells[(task, method, n)] == epochs == paper_epochs(n) == min(30 * 30000 // n, 1000)
    assert all(r.mean > 0 and r.std > 0 for r in rows)
    assert PAPER_SETTINGS["n_trains"] == tuple(expected_epochs)


def test_paper_results_filters_and_refuses_unknown_names():
    assert {r.table for r in paper_results()} == {"data_efficiency", "equivariance", "pendulum"}
    assert len(paper_results("pendulum")) == 10
    with pytest.raises(ValueError, match="table"):
        paper_results("nope")
    with pytest.raises(ValueError, match="task"):
        paper_results(task="O6Synthetic")


# -- the grid ----------------------------------------------------------------------
def test_grid_selects_by_name_alias_and_family():
    assert grid(["particles"], [30], ["EMLP-SO"]) == [("ParticleInteraction", "EMLP-SO(1,3)", 30)]
    assert grid(["o5", "inertia"], [30], ["EMLP-O"]) == [("O5Synthetic", "EMLP-O(5)", 30), ("Inertia", "EMLP-O(3)", 30)]
    assert len(grid()) == 91 and grid(["pendulum"]) == []


@pytest.mark.parametrize(
    "args, error",
    [((["O6"], None, None), ValueError), (([3], None, None), TypeError), ((None, [0], None), ValueError),
     ((None, [30.0], None), TypeError), ((["o5"], None, ["EMLP-O(3)"]), ValueError), ((None, None, [5]), TypeError),
     ((["inertia"], None, ["EMLP"]), ValueError)],
)  # fmt: skip
def test_grid_refuses_bad_input(args, error):
    with pytest.raises(error):
        grid(*args)


# -- one cell ----------------------------------------------------------------------
def test_run_cell_tiny_emlp_and_mlp():
    tiny = {"epochs": 3, "ch": 16, "n_test": 50, "n_val": 20}
    emlp = run_cell("O5Synthetic", "EMLP-O(5)", 30, **tiny)
    mlp = run_cell("o5", "MLP", 30, **tiny)
    for r in (emlp, mlp):
        assert math.isfinite(r.test_mse) and r.test_mse > 0 and math.isfinite(r.best_val_mse)
        assert r.epochs == 3 and 0 <= r.best_epoch < 3
    assert emlp.equivariance_error < 1e-4
    assert mlp.equivariance_error > 1e-3


def test_run_cell_subgroup_is_equivariant_for_its_own_group():
    r = run_cell("O5Synthetic", "EMLP-SO(5)", 30, epochs=1, ch=8, n_test=10, n_val=10)
    assert math.isfinite(r.test_mse) and r.equivariance_error < 1e-4


@pytest.mark.parametrize(
    "args, kwargs, error",
    [(("Dipole", "MLP", 30), {}, ValueError), (("O5Synthetic", "EMLP-O(3)", 30), {}, ValueError),
     (("O5Synthetic", "MLP", 0), {}, ValueError), (("O5Synthetic", "MLP", 30, -1), {}, ValueError),
     (("O5Synthetic", "MLP", 30), {"epochs": 2.0}, TypeError), (("pendulum", "MLP", 30), {}, ValueError),
     ((5, "MLP", 30), {}, TypeError)],
)  # fmt: skip
def test_run_cell_refuses_bad_input(args, kwargs, error):
    with pytest.raises(error):
        run_cell(*args, **kwargs)


def test_reproduce_prints_ours_beside_the_paper_and_writes_its_files(tmp_path):
    text = io.StringIO()
    cells = reproduce(["o5", "pendulum"], [30], ["MLP"], trials=2, ch=8, epochs=2, n_test=20, n_val=10, pendulum=False,
                      out=tmp_path, file=text)  # fmt: skip
    out = text.getvalue()
    assert [(c.method, c.trial) for c in cells] == [("MLP", 0), ("MLP", 1)]
    assert "28.1 ± 3.8" in out and "0.0121 ± 0.0018" in out and "examples/double_pendulum.py" in out
    assert "~1.2e-7" in out
    csv_lines = (tmp_path / "reproduce_results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("task,method,n_train,trial,epochs,test_mse") and len(csv_lines) == 3
    assert (tmp_path / "data_efficiency_O5Synthetic.png").stat().st_size > 0


def test_reproduce_refuses_bad_settings():
    with pytest.raises(TypeError, match="quick"):
        reproduce(quick="yes")
    with pytest.raises(ValueError, match="device"):
        reproduce(["o5"], [30], ["MLP"], device="nosuchdevice", file=io.StringIO())
    with pytest.raises(ValueError, match="trials"):
        reproduce(["o5"], [30], ["MLP"], trials=0, file=io.StringIO())


# -- fit(restore_best=True) --------------------------------------------------------
def _linear(seed=0):
    torch.manual_seed(seed)
    return Standardize(torch.nn.Linear(20, 3), Dipole(64, seed=0).stats)


def test_restore_best_keeps_the_epoch_of_lowest_val_mse():
    train, val = Dipole(64, seed=0), Dipole(32, seed=1)
    kwargs = {"epochs": 12, "lr": 3.0, "batch_size": 16, "progress": False}  # a huge lr: the last epoch is not the best
    last = _linear()
    history = fit(last, train, val, **kwargs)
    assert history["val_mse"][-1] > min(history["val_mse"])
    assert evaluate(last, val) == history["val_mse"][-1]
    best = _linear()
    again = fit(best, train, val, restore_best=True, **kwargs)
    assert again == history  # the same run: only the parameters kept at the end differ
    assert evaluate(best, val) == min(history["val_mse"])
    assert best.training  # the mode it was given in


def test_restore_best_refuses_what_it_cannot_do(tmp_path):
    train = Dipole(16, seed=0)
    with pytest.raises(ValueError, match="validation"):
        fit(_linear(), train, epochs=1, progress=False, restore_best=True)
    with pytest.raises(ValueError, match="checkpoint"):
        fit(_linear(), train, train, epochs=1, progress=False, restore_best=True, checkpoint=tmp_path / "c.pt")
    with pytest.raises(TypeError, match="restore_best"):
        fit(_linear(), train, train, epochs=1, progress=False, restore_best=1)


# -- the command -------------------------------------------------------------------
def test_command_line_is_parsed():
    args = build_parser().parse_args(
        ["reproduce", "--quick", "--tasks", "o5", "Inertia", "--n-train", "30", "100", "--methods", "MLP", "EMLP-O",
         "--trials", "2", "--device", "cpu", "--out", "somewhere"]
    )  # fmt: skip
    assert (args.quick, args.tasks, args.n_train) == (True, ["o5", "Inertia"], [30, 100])
    assert args.methods == ["MLP", "EMLP-O"]
    assert (args.trials, args.device, args.out, args.epochs) == (2, "cpu", "somewhere", None)


def test_command_help_and_usage_errors(capsys):
    assert main(["reproduce", "--help"]) == 0
    assert "--quick" in capsys.readouterr().out
    assert main(["reproduce", "--tasks", "nope"]) == 2
    assert main(["reproduce", "--quick", "--methods", "EMLP-SO+"]) == 2  # not among the quick tasks' methods
    assert main(["reproduce", "--trials", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("constrainnet: error:") == 2 and "Traceback" not in err


def test_command_help_imports_no_numerics():
    code = (
        "import sys; from constrainnet.cli import main; main(['reproduce', '--help']); "
        "print(sorted(set(sys.modules) & {'numpy', 'torch'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


def test_command_runs_a_tiny_grid(capsys):
    argv = ["reproduce", "--tasks", "o5", "--n-train", "30", "--methods", "MLP", "--trials", "1", "--ch", "8",
            "--epochs", "2", "--n-test", "20", "--n-val", "10"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "O5Synthetic" in out and "28.1 ± 3.8" in out and "total" in out


def test_the_pendulum_table_runs_our_cells_beside_the_paper(monkeypatch):
    import io

    from constrainnet import reproduce_pendulum as rp
    from constrainnet.reproduce import reproduce

    tiny = {"n_train": 3, "n_test": 2, "epochs": 2, "ch": 8, "num_layers": 1, "rollout_steps": 4}
    monkeypatch.setattr(rp, "PENDULUM_QUICK", tiny)
    out = io.StringIO()
    reproduce(tasks=["pendulum"], quick=True, file=out)
    text = out.getvalue()
    assert "HNN paper" in text and "0.0121 ± 0.0018" in text  # the paper's EMLP-O(2) HNN cell
    ours = next(line for line in text.splitlines() if line.strip().startswith("HNN ours")).split()[2:]
    assert len(ours) == 5 and ours[1:4] == ["-", "-", "-"]  # quick: EMLP-O(2) and MLP only
    assert all(float(v) > 0 for v in (ours[0], ours[4]))


def test_pendulum_cells_refuse_unknown_names():
    from constrainnet.reproduce_pendulum import run_pendulum_cell

    with pytest.raises(ValueError, match="kind"):
        run_pendulum_cell("LNN", "MLP")
    with pytest.raises(ValueError, match="method"):
        run_pendulum_cell("HNN", "EMLP-O(3)")
    with pytest.raises(ValueError, match="epochs"):
        run_pendulum_cell("HNN", "MLP", epochs=0)
