"""What a training run needs to give the same weights, bit for bit, on another machine.

Every batch, initialisation and degradation is already a function of the seed and the
iteration. What remains is arithmetic: floating-point sums give different bits when they
are added in another order, and the order depends on

* the number of threads (each thread reduces its share of a batch, then the shares are added);
* the SIMD code path chosen at run time by ATen, oneDNN and MKL (AVX2 and AVX-512 kernels
  block their loops differently).

So a run that must be reproducible fixes its thread count in the config (``threads``), and
``make weights`` starts Python with the environment below, which caps every library at the
AVX2 code path that the weights were trained with (Intel since Haswell, 2013; AMD since
Excavator, 2015). The card records both, plus the CPU's own flags, so a differing rebuild can
be traced to its cause.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# Read by the libraries when they load, so they must be in the environment before Python
# starts (the Makefile sets them); setting them from here would be too late.
CPU_PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",    # PyTorch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",     # oneDNN convolutions (the bulk of the work)
    "MKL_CBWR": "AVX2",               # MKL's conditional numerical reproducibility
}


def set_threads(threads: int | None) -> int:
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    except OSError:
        pass
    return []


def facts() -> dict:
    """The arithmetic conditions of this run, for the model card."""
    import torch

    return {"threads": torch.get_num_threads(), "torch": torch.__version__, "machine": platform.machine(),
            "cpu_pins": {k: os.environ.get(k) for k in CPU_PINS},
            "cpu_pins_complete": all(os.environ.get(k) == v for k, v in CPU_PINS.items()),
            "cpu_flags": _cpu_flags()}


def previous_weights_sha256(card_file: Path) -> str | None:
    """The sha256 recorded by the card a retraining is about to replace (``make weights``)."""
    import json

    try:
        return json.loads(Path(card_file).read_text()).get("weights_sha256")
    except (OSError, ValueError):
        return None


def reproduction_line(name: str, previous: str | None, new: str) -> str | None:
    if previous is None:
        return None
    if previous == new:
        return f"{name}: reproduced the previous weights bit for bit (sha256 {new[:16]}…)"
    return (f"{name}: weights differ from the ones replaced (sha256 {previous[:16]}… → {new[:16]}…); "
            "compare the cards' training.determinism blocks (threads, cpu_pins, cpu_flags)")
