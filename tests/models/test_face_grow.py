"""Growing a trained face model deeper (restore.models.face_arch.grow_from): the grown network
starts as the trained one, and only depth may change."""

from __future__ import annotations

import pytest
import torch

from restore.models.face_arch import build_face_model, grow_from

SMALL = {"channels": [8, 8, 8, 8], "blocks": [0, 1, 1, 1]}


def _trained() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_face_model(SMALL)
    with torch.no_grad():                  # a fresh model's tail is zero (the identity): give it an effect
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def test_grown_model_computes_what_the_trained_one_did():
    small = _trained()
    big = build_face_model({"channels": [8, 8, 8, 8], "blocks": [2, 2, 1, 1]}).eval()
    added = grow_from(big, small.state_dict())
    assert added == ["dec.0.0", "dec.0.1", "dec.1.1", "enc.0.0", "enc.0.1", "enc.1.1"]
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        reference = small(x)
        assert (reference - x).abs().max() > 1e-3          # the trained model does change its input
        assert torch.equal(big(x), reference)
    # and the added blocks learn: their first convolution gets a gradient once the second has moved
    big.train()
    loss = (big(x) - x.flip(-1)).abs().mean()
    loss.backward()
    assert big.get_submodule("enc.0.0.conv2").weight.grad.abs().sum() > 0


def test_only_depth_may_grow():
    small = _trained()
    with pytest.raises(ValueError, match="only depth"):
        grow_from(build_face_model({"channels": [8, 16, 8, 8], "blocks": [0, 1, 1, 1]}), small.state_dict())
    with pytest.raises(ValueError, match="fewer blocks"):
        grow_from(build_face_model({"channels": [8, 8, 8, 8], "blocks": [0, 0, 1, 1]}), small.state_dict())


def test_same_architecture_loads_unchanged():
    small = _trained()
    twin = build_face_model(SMALL)
    assert grow_from(twin, small.state_dict()) == []
    assert all(torch.equal(a, b) for a, b in zip(twin.state_dict().values(), small.state_dict().values()))
