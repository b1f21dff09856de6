"""``constrainnet train --model rpp|mlp+aug``: the models are built and trained with their prior or augmentation."""

from __future__ import annotations

import re

import pytest

from constrainnet.cli import main

TINY = ["--n-train", "32", "--n-test", "16", "--epochs", "1", "--ch", "8", "--num-layers", "1", "--batch-size", "16"]


@pytest.mark.parametrize("model", ["rpp", "mlp+aug"])
def test_train_rpp_and_mlp_aug(capsys, monkeypatch, model):
    from constrainnet import train as training

    seen = {}
    real = training.fit

    def spy(net, data, *args, **kwargs):
        seen.update(kwargs, core=net.model)
        return real(net, data, *args, **kwargs)

    monkeypatch.setattr(training, "fit", spy)
    assert main(["train", "o5", "--model", model, *TINY]) == 0
    out = capsys.readouterr().out
    assert f"o5: {model.upper()} on 2*V -> Scalar under O(5)" in out
    assert float(re.search(r"test MSE (\S+)", out).group(1)) >= 0
    if model == "rpp":
        assert type(seen["core"]).__name__ == "RPP"
        assert seen["penalty"] == seen["core"].prior_penalty and seen["augment"] is None
    else:
        assert type(seen["core"]).__name__ == "MLP" and seen["penalty"] is None
        assert type(seen["augment"]).__name__ == "GroupAugment" and seen["augment"].group == seen["core"].group


def test_unknown_model_is_a_usage_error(capsys):
    assert main(["train", "o5", "--model", "mlp-aug"]) == 2
    assert "invalid choice: 'mlp-aug'" in capsys.readouterr().err
