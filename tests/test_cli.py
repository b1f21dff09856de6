"""The ``constrainnet`` command: return codes, printed output and files, called through ``main(argv)``."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from constrainnet.cli import TASKS, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Tiny models and data: a demo or train run in a few seconds.
TINY = ["--n-train", "16", "--n-test", "16", "--epochs", "1", "--ch", "16", "--num-layers", "1", "--no-progress"]


def _field(out: str, name: str) -> str:
    match = re.search(rf"^{name}\s+(.+)$", out, re.MULTILINE)
    assert match, f"no {name!r} line in:\n{out}"
    return match.group(1).strip()


def _assert_one_line_error(err: str, fragment: str) -> None:
    assert err.startswith("constrainnet: error: ") and err.count("\n") == 1, err
    assert fragment in err and "Traceback" not in err


# -- basis ---------------------------------------------------------------------
def test_basis_prints_size_dim_strategy_seconds(capsys):
    assert main(["basis", "--group", "SO(3)", "V**2 >> V"]) == 0
    out = capsys.readouterr().out
    assert _field(out, "rep") == "V**2 >> V"
    assert _field(out, "group") == "SO(3)"
    assert _field(out, "size") == "27"
    assert _field(out, "basis dim") == "1"
    assert _field(out, "strategy") == "dense"
    assert float(_field(out, "seconds")) >= 0


@pytest.mark.parametrize("strategy", ["dense", "block"])
def test_basis_strategy_option(capsys, strategy):
    assert main(["basis", "--group", "S(4)", "(V + V**0) >> V", "--strategy", strategy]) == 0
    out = capsys.readouterr().out
    assert _field(out, "strategy") == strategy
    assert _field(out, "basis dim") == "3"  # V -> V: 2, scalar -> V: 1


def test_basis_default_group_and_products(capsys):
    assert main(["basis", "(5*V**0 + 5*V) >> V"]) == 0
    assert _field(capsys.readouterr().out, "basis dim") == "5"
    assert main(["basis", "--group", "SO(3)*S(4)", "V[0]*V[1] >> V[0]*V[1]"]) == 0
    out = capsys.readouterr().out
    assert _field(out, "size") == "144" and _field(out, "basis dim") == "2"


def test_basis_of_a_paired_group(capsys):
    # Z(6) on the input, its quotient Z(3) on the output: 3 maps (the direct product allows 1)
    assert main(["basis", "--group", "Paired(Z(6), Z(3))", "V[0] >> V[1]"]) == 0
    assert _field(capsys.readouterr().out, "basis dim") == "3"
    assert main(["basis", "--group", "Z(6)*Z(3)", "V[0] >> V[1]"]) == 0
    assert _field(capsys.readouterr().out, "basis dim") == "1"


def test_basis_plot_writes_png(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    path = tmp_path / "basis.png"
    assert main(["basis", "--group", "SO(3)", "V**2 >> V**2", "--plot", str(path)]) == 0
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert f"wrote      {path}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["basis", "--group", "SO3x", "V"], "unknown group 'SO3x' at position 0"),
        (["basis", "--group", "SO(3", "V"], "expected ')' at position 4"),
        (["basis", "--group", "SO(3)", "V**2 >>"], "at position 7 of 'V**2 >>', found end of input"),
        (["basis", "--group", "SO(3)", "import os"], "unknown name 'import'"),
        (["basis", "--group", "SO(3)", "V[0]"], "expected a product group"),
        (["demo", "--group", "SO3x"], "unknown group 'SO3x'"),
        (["demo", "--group", "SO(2)"], "expected a group acting on R^3, got SO(2) acting on R^2"),
        (["train", "dipole", "--group", "Foo(3)"], "unknown group 'Foo'"),
        (["train", "o5", "--group", "O(3)"], "expected a group acting on R^5"),
    ],
    ids=["unknown-group", "group-syntax", "rep-syntax", "rep-name", "rep-factor", "demo-group", "demo-d",
         "train-group", "train-d"],  # fmt: skip
)
def test_bad_input_is_one_line_exit_2(capsys, argv, fragment):
    assert main(argv) == 2
    captured = capsys.readouterr()
    _assert_one_line_error(captured.err, fragment)
    assert captured.out == ""


def test_bad_device_is_exit_2(capsys):
    import torch

    assert main(["train", "dipole", "--device", "warp-drive", *TINY]) == 2
    _assert_one_line_error(capsys.readouterr().err, "--device: expected a torch device such as cpu or cuda")
    if not torch.cuda.is_available():
        assert main(["demo", "--device", "cuda", *TINY]) == 2
        _assert_one_line_error(capsys.readouterr().err, "CUDA is not available")


@pytest.mark.parametrize(
    "argv",
    [[], ["basis"], ["basis", "V", "--strategy", "fast"], ["nope"], ["train", "mnist"], ["demo", "--epochs", "0"]],
    ids=["no-command", "no-rep", "bad-strategy", "bad-command", "bad-task", "bad-epochs"],
)
def test_argparse_errors_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(r"^constrainnet( \w+)?: error: ", err, re.MULTILINE) and "Traceback" not in err


def test_help_and_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("constrainnet ")
    assert main(["basis", "--help"]) == 0
    assert "--strategy" in capsys.readouterr().out


def test_solver_failure_is_exit_1(capsys):
    # V**12 of SO(3) has 531441 coordinates: too large for the dense strategy
    assert main(["basis", "--group", "SO(3)", "V**12", "--strategy", "dense"]) == 1
    _assert_one_line_error(capsys.readouterr().err, "")


def test_memory_limit_is_one_line_exit_1(capsys, monkeypatch):
    # V**19 of SO(3) has 1.2e9 coordinates: the dense estimate (~1e20 bytes) exceeds any limit
    assert main(["basis", "--group", "SO(3)", "V**19"]) == 1
    _assert_one_line_error(capsys.readouterr().err, "dense strategy for V**19 (size 1162261467)")
    from constrainnet.solver import cache_clear, set_memory_limit

    cache_clear()  # a basis solved earlier in this process would be served without a solve
    set_memory_limit(None)  # an explicit limit left by another test would win over the environment
    monkeypatch.setenv("CONSTRAINNET_MEMORY_LIMIT", "1M")
    for argv in (["basis", "--group", "S(6)", "V**4"], ["basis", "--group", "S(6)", "V**4", "--explain"]):
        assert main(argv) == 1
        _assert_one_line_error(capsys.readouterr().err, "memory limit 1 MiB (1048576 bytes)")


def test_console_script_module(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "constrainnet.cli", "basis", "--group", "O(3)", "V**2"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "basis dim  1" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "constrainnet.cli", "basis", "--group", "SO3x", "V"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == ""
    _assert_one_line_error(bad.stderr, "unknown group 'SO3x'")



def test_python_dash_m_constrainnet_runs_the_command():
    # constrainnet/__main__.py: `python -m constrainnet` is the console script
    done = subprocess.run([sys.executable, "-m", "constrainnet", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    assert re.fullmatch(r"constrainnet \d+\.\d+\.\d+\S*\n", done.stdout), done.stdout


def test_package_is_typed():
    # PEP 561 marker, shipped by setup.cfg's package_data
    from pathlib import Path

    import constrainnet

    assert (Path(constrainnet.__file__).parent / "py.typed").is_file()

# -- demo and train --------------------------------------------------------------------
def test_demo_tiny(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="the demo draws weights.png")
    out_dir = tmp_path / "out"
    assert main(["demo", "--out", str(out_dir), *TINY]) == 0
    out = capsys.readouterr().out
    assert "5*Scalar + 5*V -> V under SO(3)" in out
    equivariance = re.search(r"^  EMLP\s+(\S+)$", out, re.MULTILINE)
    assert equivariance and float(equivariance.group(1)) < 1e-5
    rows = {m.group(1): m.groups()[1:] for m in re.finditer(r"^  (EMLP|MLP)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.MULTILINE)}
    assert set(rows) == {"EMLP", "MLP"}
    assert float(rows["EMLP"][1]) < 1e-5 < float(rows["MLP"][1])  # trained EMLP stays equivariant, MLP is not
    assert (out_dir / "weights.png").read_bytes().startswith(PNG_SIGNATURE)


def test_demo_under_another_group(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="the demo draws weights.png")
    assert main(["demo", "--group", "O(3)", "--out", str(tmp_path), *TINY]) == 0
    assert "under O(3)" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["emlp", "mlp"])
@pytest.mark.parametrize("task", sorted(TASKS))
def test_train_tiny(capsys, task, model):
    assert main(["train", task, "--model", model, *TINY]) == 0
    out = capsys.readouterr().out
    assert f"{task}: {model.upper()} on " in out
    mse = re.search(r"test MSE (\S+)", out)
    assert mse and float(mse.group(1)) >= 0


def test_train_compile_trains_through_torch_compile(capsys, monkeypatch):
    import torch

    calls = []
    real = torch.compile

    def spy(model, **kwargs):  # Dynamo and AOT autograd without code generation: fast
        calls.append(model)
        return real(model, backend="aot_eager", **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    assert main(["train", "dipole", "--compile", *TINY]) == 0
    assert len(calls) == 1 and "test MSE" in capsys.readouterr().out
    assert main(["train", "dipole", *TINY]) == 0 and len(calls) == 1


@pytest.mark.slow
def test_demo_defaults_emlp_beats_mlp(capsys, tmp_path):
    """The default demo (the documented one-minute run): EMLP's test MSE is far below the MLP's."""
    pytest.importorskip("matplotlib", reason="the demo draws weights.png")
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    ratio = re.search(r"EMLP's test MSE is (\S+)x lower", out)
    assert ratio and float(ratio.group(1)) > 3, out


def test_basis_explain_lists_leaves_and_stages(capsys):
    assert main(["basis", "--group", "SO(3)", "(2*V**0 + V) >> (V + V**2)", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "strategy     block (chosen from the structure)" in out
    assert "V >> V**2" in out and "leaf solves" in out and "total" in out


def test_basis_explain_orbits(capsys):
    assert main(["basis", "--group", "S(5)", "V**2 >> V**2", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "orbits       15" in out and "coordinate permutations" in out


def test_forcing_orbit_on_a_non_permutation_rep_fails_cleanly(capsys):
    assert main(["basis", "--group", "SO(3)", "V >> V", "--strategy", "orbit"]) == 1
    assert "expected a permutation rep" in capsys.readouterr().err


def test_train_defaults_are_the_papers_settings():
    from constrainnet.cli import _PAPER_BATCH, build_parser
    from constrainnet.reproduce import PAPER_SETTINGS

    assert _PAPER_BATCH == PAPER_SETTINGS["batch_size"] == 500
    args = build_parser().parse_args(["train", "o5"])
    assert args.epochs is None and args.batch_size == 500


def test_train_default_epochs_follow_the_papers_rule(monkeypatch):
    # min(30·30000/N, 1000) epochs and batch 500 reach fit (the training itself is stubbed out)
    import constrainnet.train

    seen = {}

    def record(model, data, **kwargs):
        seen.update(epochs=kwargs["epochs"], batch_size=kwargs["batch_size"], n=len(data))
        return {"train_loss": []}

    monkeypatch.setattr(constrainnet.train, "fit", record)
    for n, epochs in ((3000, 300), (100, 1000)):
        assert main(["train", "dipole", "--n-train", str(n), "--n-test", "16", "--ch", "8", "--num-layers", "1", "--no-progress"]) == 0
        assert seen == {"epochs": epochs, "batch_size": 500, "n": n}
