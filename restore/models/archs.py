"""The architectures we build, by name, and how to recognise them from a bare state dict.

We do not copy network code: SR generators and the discriminator are basicsr's own classes
(so Real-ESRGAN/BasicSR checkpoints load into them unchanged). An architecture is named by a
spec ``{"type": NAME, **constructor kwargs}``, which is what model cards and training configs store.
basicsr's classes are registered lazily so that listing weights never pays for importing basicsr;
ours register themselves with ``@register_arch`` in restore/models/NAME_arch.py.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
from typing import Any, Callable

import torch
from torch import nn

from restore.errors import PipelineError
from restore.registry import Registry, UnknownNameError


def _before_import(module_name: str) -> None:
    if module_name.startswith("basicsr."):
        import restore.models.compat  # noqa: F401  (must precede any basicsr import)


def _find_archs(name: str | None) -> None:
    """Our own architectures register themselves in restore/models/*_arch.py: import those modules."""
    import restore.models as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.endswith("_arch"):
            importlib.import_module(f"restore.models.{info.name}")


# name -> the class (or "module:attribute", imported on first use). ``info["example"]`` is the
# spec of a small instance: what the contract test (tests/test_contract.py) builds and runs.
ARCHS: Registry[Callable[..., nn.Module]] = Registry("architecture", finder=_find_archs,
                                                    before_import=_before_import)
ARCHS.register("SRVGGNetCompact", lazy="basicsr.archs.srvgg_arch:SRVGGNetCompact",
               info={"example": {"num_feat": 8, "num_conv": 2, "upscale": 2}})
ARCHS.register("RRDBNet", lazy="basicsr.archs.rrdbnet_arch:RRDBNet",
               info={"example": {"num_in_ch": 3, "num_out_ch": 3, "scale": 2, "num_feat": 8, "num_block": 1,
                                 "num_grow_ch": 8}})
ARCHS.register("UNetDiscriminatorSN", lazy="basicsr.archs.discriminator_arch:UNetDiscriminatorSN",
               info={"example": {"num_in_ch": 3, "num_feat": 8}})


def register_arch(name: str, *, example: dict[str, Any]) -> Callable[[Callable[..., nn.Module]],
                                                                      Callable[..., nn.Module]]:
    """Class decorator for an architecture in restore/models/NAME_arch.py, so cards and configs
    can name it; ``example`` is the constructor keywords of a small instance (for the contract test)."""
    return ARCHS.register(name, info={"example": dict(example)})


def arch_names() -> list[str]:
    return ARCHS.names()


def arch_class(name: str) -> Callable[..., nn.Module]:
    try:
        return ARCHS.get(name)
    except UnknownNameError as exc:
        raise PipelineError(str(exc)) from None


def build_arch(spec: dict[str, Any]) -> nn.Module:
    """Instantiate ``{"type": NAME, **kwargs}``; a wrong keyword is the user's error, in one line."""
    kwargs = dict(spec)
    name = kwargs.pop("type", None)
    if not name:
        raise PipelineError("architecture spec has no 'type'")
    cls = arch_class(name)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise PipelineError(f"architecture {name}: {exc}") from None


def arch_scale(spec: dict[str, Any]) -> int:
    """The upscaling factor an SR spec produces (1 for restorers that keep the size)."""
    return int(spec.get("upscale", spec.get("scale", 1)))


def _conv_weights(state: dict[str, torch.Tensor], prefix: str) -> list[tuple[int, torch.Tensor]]:
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.weight$")
    found = [(int(m.group(1)), t) for k, t in state.items() if (m := pattern.match(k))]
    return sorted(found, key=lambda item: item[0])


def _infer_srvgg(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    layers = _conv_weights(state, "body")
    convs = [t for _, t in layers if t.ndim == 4]
    acts = [t for _, t in layers if t.ndim == 1]
    if len(convs) < 2:
        raise PipelineError("SRVGGNetCompact checkpoint has fewer than two convolutions")
    first, last = convs[0], convs[-1]
    num_in_ch, num_feat = first.shape[1], first.shape[0]
    # SRVGGNetCompact adds a nearest-upsampled copy of its input: output channels equal input channels.
    num_out_ch = num_in_ch
    upscale = math.isqrt(last.shape[0] // num_out_ch)
    if upscale * upscale * num_out_ch != last.shape[0]:
        raise PipelineError(f"SRVGGNetCompact: last conv has {last.shape[0]} channels, not 3·scale²")
    if not acts:
        # relu and leakyrelu carry no parameters, so the file cannot tell them apart.
        raise PipelineError("SRVGGNetCompact checkpoint without PReLU weights: its activation cannot be inferred")
    return {"type": "SRVGGNetCompact", "num_in_ch": num_in_ch, "num_out_ch": num_out_ch,
            "num_feat": num_feat, "num_conv": len(convs) - 2, "upscale": upscale, "act_type": "prelu"}


def _infer_rrdb(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    first = state["conv_first.weight"]
    num_out_ch = state["conv_last.weight"].shape[0]
    num_feat = first.shape[0]
    # RRDBNet pixel-unshuffles its input for ×2 (4× channels) and ×1 (16× channels).
    unshuffled = first.shape[1] // num_out_ch
    scale = {1: 4, 4: 2, 16: 1}.get(unshuffled)
    if scale is None:
        raise PipelineError(f"RRDBNet: conv_first takes {first.shape[1]} channels, no known scale")
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("body.")}
    return {"type": "RRDBNet", "num_in_ch": num_out_ch, "num_out_ch": num_out_ch, "scale": scale,
            "num_feat": num_feat, "num_block": len(blocks),
            "num_grow_ch": state["body.0.rdb1.conv1.weight"].shape[0]}


def infer_arch(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Recognise a BasicSR/Real-ESRGAN generator from its parameter names and shapes."""
    if "body.0.weight" in state and not any(k.startswith("conv_first") for k in state):
        return _infer_srvgg(state)
    if "conv_first.weight" in state and "body.0.rdb1.conv1.weight" in state:
        return _infer_rrdb(state)
    sample = ", ".join(sorted(state)[:4])
    raise PipelineError(f"unrecognised architecture (first keys: {sample}); supported: SRVGGNetCompact, RRDBNet")


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_macs(module: nn.Module, height: int, width: int, in_channels: int = 3, probe: int = 32) -> int:
    """Multiply-accumulates of one forward pass on a height×width frame.

    Counted by hooks on every convolution and linear layer during a forward pass on a small
    probe, then scaled by the pixel ratio: exact for the fully convolutional SR networks here,
    whose work per input pixel does not depend on the frame size. Element-wise work
    (activations, pixel shuffle, the upsampled skip) is not counted, by convention.
    """
    total = 0

    def hook(layer: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            per_output = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        else:
            per_output = layer.in_features
        total += output.numel() * per_output

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    device = next(module.parameters()).device
    # RRDBNet pixel-unshuffles by 2 or 4 and FaceUNetS downsamples by 8: the probe side must divide.
    # Multi-frame models take a window of frames: they say what one probe input looks like.
    example = getattr(module, "example_input", None)
    probe_input = example(probe, probe) if example else torch.zeros(1, in_channels, probe, probe)
    try:
        with torch.inference_mode():
            module(probe_input.to(device))
    finally:
        for handle in handles:
            handle.remove()
    return round(total * (height * width) / (probe * probe))
