"""Energy and carbon of a training run or a restoration job.

What is measured, best first:

* ``rapl``: the CPU package energy counters under ``/sys/class/powercap`` (Intel RAPL,
  also exposed for AMD Zen by recent kernels). They count the whole package, so other
  work on the machine is included: the figure is an upper bound for this job.
* ``nvml``: the GPU's own energy counter (NVIDIA Volta and later) through ``pynvml``
  (the ``nvidia-ml-py`` wheel) when it is importable. The CPU part is then added from
  RAPL or from the estimate below, and ``parts`` says which.
* ``estimate``: CPU seconds of this process and its waited-for children (ffmpeg) times a
  stated power per busy core. Nothing is measured; the report says so.

Carbon = kWh × grid intensity. The default is France's average mix (see
``DEFAULT_GRID_GCO2_PER_KWH``); set ``RESTORE_GRID_GCO2_PER_KWH`` or pass
``grid_gco2_per_kwh`` for another grid. No network look-up is ever made.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

JOULES_PER_KWH = 3.6e6

# ADEME Base Empreinte, "Électricité - mix moyen - France continentale" (life-cycle,
# ~52 gCO2e/kWh for recent years). RTE's eCO2mix direct-emission figures are lower
# (~30 g), Electricity Maps' life-cycle figures ~50-60 g: 52 sits in that range.
DEFAULT_GRID_GCO2_PER_KWH = 52.0
DEFAULT_GRID_SOURCE = "France average mix, ADEME Base Empreinte (life-cycle), approx."

# A busy core of a current server CPU draws TDP / cores: EPYC 7763 280 W / 64 = 4.4 W,
# Xeon Gold 6338 205 W / 32 = 6.4 W; a desktop Core i7-12700 125 W / 12 ≈ 10 W. We take
# 10 W to cover the package's uncore and memory share too, so the estimate errs high.
# codecarbon's fallback model (1.6 W for a busy core here) under-counts by far.
DEFAULT_CPU_WATTS_PER_CORE = 10.0

POWERCAP_ROOT = Path("/sys/class/powercap")

GRID_ENV = "RESTORE_GRID_GCO2_PER_KWH"
WATTS_ENV = "RESTORE_CPU_WATTS_PER_CORE"


@dataclass(frozen=True)
class EnergyReport:
    """Energy of one metered span of work."""

    kwh: float
    gco2e: float
    method: str                 # "rapl" | "nvml" | "estimate"
    seconds: float              # wall-clock time
    cpu_seconds: float          # user + system, this process and its waited-for children
    grid_gco2_per_kwh: float
    assumptions: str            # human-readable: how the figure was obtained
    parts: dict = field(default_factory=dict)  # {"cpu": {"method", "kwh"}, "gpu": {...}}

    @property
    def is_estimate(self) -> bool:
        return self.method == "estimate" or any(p["method"] == "estimate" for p in self.parts.values())

    def as_dict(self) -> dict:
        data = asdict(self)
        data["is_estimate"] = self.is_estimate
        return data

    def summary(self) -> str:
        label = " (estimate)" if self.is_estimate else ""
        return (f"energy {self.kwh * 1000:.3f} Wh, {self.gco2e:.3f} gCO2e{label} "
                f"over {self.seconds:.1f} s via {self.method}")


def _float_from_env(name: str, default: float) -> tuple[float, bool]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default, False
    try:
        value = float(raw)
    except ValueError:
        from restore.errors import UserError
        raise UserError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        from restore.errors import UserError
        raise UserError(f"{name}={raw!r} must not be negative")
    return value, True


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class _RaplCounters:
    """Package-level RAPL zones (``intel-rapl:N``, not their sub-zones, to avoid double counting)."""

    def __init__(self, root: Path = POWERCAP_ROOT):
        self.zones: list[tuple[Path, int]] = []
        if not root.is_dir():
            return
        for zone in sorted(root.glob("intel-rapl:*")):
            if zone.name.count(":") != 1:
                continue  # sub-zone (core, uncore, dram) is part of its package
            energy = zone / "energy_uj"
            try:
                int(energy.read_text())
                max_range = int((zone / "max_energy_range_uj").read_text())
            except (OSError, ValueError):
                continue  # present but not readable (root-only since CVE-2020-8694)
            self.zones.append((energy, max_range))

    def __bool__(self) -> bool:
        return bool(self.zones)

    def read(self) -> list[int]:
        return [int(path.read_text()) for path, _ in self.zones]

    def joules_between(self, before: list[int], after: list[int]) -> float:
        total = 0
        for (_, max_range), a, b in zip(self.zones, before, after):
            total += b - a if b >= a else b + max_range - a  # counter wrapped
        return total / 1e6


class _NvmlCounters:
    """Total energy counters of every visible NVIDIA GPU, in joules."""

    def __init__(self):
        self.handles = []
        try:
            import pynvml
        except ImportError:
            return
        try:
            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            for handle in handles:
                pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # raises on pre-Volta GPUs
        except Exception:  # no driver, no GPU, or no energy counter: fall back silently
            return
        self._nvml = pynvml
        self.handles = handles

    def __bool__(self) -> bool:
        return bool(self.handles)

    def read(self) -> list[int]:
        return [self._nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles]  # mJ

    @staticmethod
    def joules_between(before: list[int], after: list[int]) -> float:
        return sum(b - a for a, b in zip(before, after)) / 1000.0


class EnergyMeter:
    """Meters the energy of the work done between start and stop.

    >>> with EnergyMeter() as meter:
    ...     do_work()
    >>> meter.report.kwh

    The meter always reads CPU time, so the estimate is available as a cross-check
    even when counters are measured.
    """

    def __init__(self, grid_gco2_per_kwh: float | None = None, cpu_watts_per_core: float | None = None,
                 *, powercap_root: Path = POWERCAP_ROOT, use_gpu: bool = True):
        if grid_gco2_per_kwh is not None:
            self.grid, self.grid_source = float(grid_gco2_per_kwh), "given by the caller"
        else:
            self.grid, from_env = _float_from_env(GRID_ENV, DEFAULT_GRID_GCO2_PER_KWH)
            self.grid_source = f"from {GRID_ENV}" if from_env else DEFAULT_GRID_SOURCE
        if cpu_watts_per_core is not None:
            self.watts, self.watts_source = float(cpu_watts_per_core), "given by the caller"
        else:
            self.watts, from_env = _float_from_env(WATTS_ENV, DEFAULT_CPU_WATTS_PER_CORE)
            self.watts_source = (f"from {WATTS_ENV}" if from_env
                                 else "default: server/desktop TDP per core, rounded up")
        if self.grid < 0 or self.watts < 0:
            from restore.errors import UserError
            raise UserError("grid intensity and watts per core must not be negative")
        self._rapl = _RaplCounters(powercap_root)
        self._nvml = _NvmlCounters() if use_gpu else None
        self.report: EnergyReport | None = None
        self._started = False

    def start(self) -> "EnergyMeter":
        self._t0 = time.monotonic()
        self._cpu0 = _cpu_seconds()
        self._rapl0 = self._rapl.read() if self._rapl else None
        self._nvml0 = self._nvml.read() if self._nvml else None
        self._started = True
        return self

    def stop(self) -> EnergyReport:
        if not self._started:
            raise RuntimeError("EnergyMeter.stop() called before start()")
        seconds = time.monotonic() - self._t0
        cpu_seconds = max(0.0, _cpu_seconds() - self._cpu0)
        notes = []
        parts: dict[str, dict] = {}
        if self._rapl:
            cpu_joules = self._rapl.joules_between(self._rapl0, self._rapl.read())
            parts["cpu"] = {"method": "rapl", "kwh": cpu_joules / JOULES_PER_KWH}
            notes.append(f"CPU: RAPL package counters ({len(self._rapl.zones)} package(s)), "
                         "whole package including other processes")
        else:
            cpu_joules = cpu_seconds * self.watts
            parts["cpu"] = {"method": "estimate", "kwh": cpu_joules / JOULES_PER_KWH}
            notes.append(f"CPU: ESTIMATE, {cpu_seconds:.2f} CPU-seconds x {self.watts:g} W per busy core "
                         f"({self.watts_source}); no readable RAPL counters; idle power not attributed")
        gpu_joules = 0.0
        if self._nvml:
            gpu_joules = self._nvml.joules_between(self._nvml0, self._nvml.read())
            parts["gpu"] = {"method": "nvml", "kwh": gpu_joules / JOULES_PER_KWH}
            notes.append(f"GPU: NVML energy counters of {len(self._nvml.handles)} GPU(s), whole device")
        kwh = (cpu_joules + gpu_joules) / JOULES_PER_KWH
        method = "nvml" if self._nvml else parts["cpu"]["method"]
        notes.append(f"grid {self.grid:g} gCO2e/kWh ({self.grid_source})")
        self.report = EnergyReport(kwh=kwh, gco2e=kwh * self.grid, method=method, seconds=seconds,
                                   cpu_seconds=cpu_seconds, grid_gco2_per_kwh=self.grid,
                                   assumptions="; ".join(notes), parts=parts)
        self._started = False
        return self.report

    def __enter__(self) -> "EnergyMeter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
