"""The command answers ``--version``, ``--help`` and usage errors without importing numpy, scipy or torch; reps that start with a minus sign."""

from __future__ import annotations

import subprocess
import sys

import pytest

from constrainnet.cli import STRATEGY_NAMES, main

# Runs the command in a fresh interpreter and reports which heavy modules it imported.
_PROBE = """
import sys
from constrainnet.cli import main
status = main({argv!r})
heavy = sorted(m for m in ("numpy", "scipy", "torch") if m in sys.modules)
print("HEAVY", ",".join(heavy) or "-", "STATUS", status)
"""


def _heavy_imports(argv: list[str]) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(argv=argv)], capture_output=True, text=True, check=True)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("HEAVY")][-1].split()
    return line[1], int(line[3])


@pytest.mark.parametrize(
    "argv, status",
    [(["--version"], 0), (["--help"], 0), (["basis", "--help"], 0), (["train", "nosuchtask"], 2), (["basis", "--strategy", "x", "V"], 2)],
)
def test_parsing_imports_no_numerics(argv, status):
    heavy, got = _heavy_imports(argv)
    assert got == status
    assert heavy == "-", f"constrainnet {' '.join(argv)} imported {heavy}"


def test_import_constrainnet_is_lazy_and_complete():
    code = (
        "import sys, constrainnet as cn\n"
        "assert 'numpy' not in sys.modules and 'torch' not in sys.modules\n"
        "assert {'nn', 'V', 'Rep', 'equivariant_basis', 'groups'} <= set(dir(cn))\n"
        "from constrainnet.groups import SO\n"
        "assert (cn.V(SO(3)) ** 2 >> cn.V(SO(3))).equivariant_basis().dim == 1\n"
        "assert cn.nn.Linear is __import__('constrainnet.nn', fromlist=['Linear']).Linear\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_raises_attribute_error():
    import constrainnet

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        constrainnet.nonexistent  # noqa: B018


def test_strategy_names_match_the_solver():
    from constrainnet.solver.strategy import STRATEGIES

    assert tuple(STRATEGY_NAMES) == tuple(STRATEGIES)


@pytest.mark.parametrize(
    "argv",
    [
        ["basis", "-3*V"],
        ["basis", "--group", "O(3)", "-V**2"],
        ["basis", "-(V + V)", "--explain"],
        ["basis", "--group=SO(2)", "- 2*V"],
    ],
)
def test_rep_with_leading_minus_is_read_as_a_rep(argv, capsys):
    # Read as a rep (a parse error about the minus sign), never as an unknown option.
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" not in err and "negative multiples" in err, err
    assert err.count("\n") == 1


def test_leading_minus_does_not_swallow_option_values():
    from constrainnet.cli import _rep_after_double_dash

    kept = ["basis", "--plot", "-x.png", "V"]
    assert _rep_after_double_dash(list(kept)) == kept  # the value of --plot is never moved
    assert _rep_after_double_dash(["basis", "-3*V", "--explain"]) == ["basis", "--explain", "--", "-3*V"]
    assert _rep_after_double_dash(["train", "-3"]) == ["train", "-3"]  # only basis reads a rep
