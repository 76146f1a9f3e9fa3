"""Energy and carbon of a training run or a restoration job.

What is measured, best first:

* ``rapl``: the CPU package energy counters under ``/sys/class/powercap`` (Intel RAPL,
  also exposed for AMD Zen by recent kernels). They count the whole package, so other
  work on the machine is included: the figure is an upper bound for this job.
* ``nvml``: the energy counter (NVIDIA Volta and later) of the GPU the work runs on
  (``device``, resolved through ``CUDA_VISIBLE_DEVICES`` to NVML's numbering) through
  ``pynvml`` (the ``nvidia-ml-py`` wheel, ``pip install 'restore[gpu]'``). The CPU part
  is then added from RAPL or from the estimate below, and ``parts`` says which. When no
  GPU is read (a CPU run, the wheel not installed, no driver) ``parts["gpu"]`` says
  ``measured: false`` and the reason, so a record never passes a missing GPU off as zero.
* ``estimate``: CPU seconds of this process and its waited-for children (ffmpeg) times a
  stated power per busy core. Nothing is measured; the report says so.

Parts of one run metered apart (segments on ``--workers N``, the assembly, jobs of a
batch) are added up by ``combine``, which counts machine counters once over overlapping
spans (see the comment there).

Carbon = kWh × grid intensity. The default is France's average mix (see
``DEFAULT_GRID_GCO2_PER_KWH``); set ``RESTORE_GRID_GCO2_PER_KWH`` or pass
``grid_gco2_per_kwh`` for another grid. No network look-up is ever made.
"""

from __future__ import annotations

import os
import socket
import sys
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

    started_at: float = 0.0     # wall-clock (epoch) bounds: what ``combine`` tells overlapping parts by
    ended_at: float = 0.0

    @property
    def is_estimate(self) -> bool:
        return self.method == "estimate" or any(p.get("method") == "estimate" for p in self.parts.values())

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

    def counter_ids(self) -> list[str]:
        return [f"rapl:{path.parent.name}" for path, _ in self.zones]

    @staticmethod
    def zone_joules(before: int, after: int, max_range: int) -> float:
        return (after - before if after >= before else after + max_range - before) / 1e6  # counter wrapped

    def joules_between(self, before: list[int], after: list[int]) -> float:
        return sum(self.zone_joules(a, b, max_range) for (_, max_range), a, b in zip(self.zones, before, after))


NVML_MISSING = "nvidia-ml-py not installed (pip install 'restore[gpu]'), so NVML cannot be read"


def _cuda_ordinal(device: str) -> int:
    """The CUDA ordinal of ``cuda`` / ``cuda:N`` (``cuda`` alone is the current device, 0 unless set)."""
    _, _, index = device.partition(":")
    if index:
        return int(index)
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return int(torch.cuda.current_device())
    except Exception:
        pass
    return 0


def _torch_uuid(ordinal: int) -> str | None:
    """The GPU-UUID torch gives the CUDA device, when CUDA is already up in this process (exact, whatever
    ``CUDA_DEVICE_ORDER`` says); None otherwise: we never start CUDA only to meter it."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            uuid = str(torch.cuda.get_device_properties(ordinal).uuid)
            return uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"
    except Exception:
        pass
    return None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _NvmlCounters:
    """The total-energy counters of the GPU(s) this run computes on, in millijoules.

    NVML numbers GPUs in PCI-bus order and ignores ``CUDA_VISIBLE_DEVICES``; CUDA numbers only
    the GPUs that variable lists, in its order. So ``cuda:1`` under ``CUDA_VISIBLE_DEVICES=2,3``
    is NVML index 3, and under ``CUDA_VISIBLE_DEVICES=GPU-8f1c…`` it is the NVML device whose
    UUID starts so (CUDA accepts unique UUID prefixes). ``device=None`` means every GPU the
    process may see. A CPU run reads none. When nothing is read, ``reason`` says why.
    """

    def __init__(self, device: str | None):
        self.handles: list = []
        self.indices: list[int] = []
        self.uuids: list[str] = []
        self.notes: list[str] = []
        self.reason: str | None = None
        if device in ("", "auto"):
            device = None  # not resolved yet: whatever GPU the process may use
        if device is not None and not device.startswith("cuda"):
            self.reason = f"run on {device}: no GPU used"
            return
        try:
            import pynvml
        except ImportError:
            self.reason = NVML_MISSING
            return
        self._nvml = pynvml
        try:
            pynvml.nvmlInit()
            count = int(pynvml.nvmlDeviceGetCount())
        except Exception as exc:  # no driver, or no GPU
            self.reason = f"NVML unavailable ({exc})"
            return
        try:
            indices = self._nvml_indices(device, count)
        except LookupError as exc:
            self.reason = str(exc)
            return
        except Exception as exc:  # an unparsable device, an NVML error: metering never stops a job
            self.reason = f"cannot tell which NVML device {device} is ({exc})"
            return
        handles = []
        for index in indices:
            try:
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # raises on pre-Volta GPUs
                uuid = _text(pynvml.nvmlDeviceGetUUID(handle))
            except Exception as exc:
                self.reason = f"GPU {index} (NVML index) has no readable energy counter ({exc})"
                return
            handles.append(handle)
            self.uuids.append(uuid)
        if not handles:
            self.reason = "no GPU visible to this process"
            return
        self.handles, self.indices = handles, indices

    def _uuid(self, index: int) -> str:
        return _text(self._nvml.nvmlDeviceGetUUID(self._nvml.nvmlDeviceGetHandleByIndex(index)))

    def _by_uuid(self, prefix: str, count: int) -> int:
        matches = [i for i in range(count) if self._uuid(i).startswith(prefix)]
        if len(matches) != 1:
            raise LookupError(f"CUDA_VISIBLE_DEVICES entry {prefix!r} names {len(matches)} of this machine's GPUs")
        return matches[0]

    def _visible(self, count: int) -> list[int] | None:
        """NVML indices of the CUDA-visible GPUs, in CUDA order; None when the variable is unset."""
        raw = os.environ.get("CUDA_VISIBLE_DEVICES")
        if raw is None:
            return None
        visible = []
        for entry in (e.strip() for e in raw.split(",")):
            if entry.startswith("MIG-"):
                raise LookupError("a MIG instance: NVML has no energy counter per MIG instance, and the whole "
                                  "GPU's counter would count the other instances' work")
            if entry.startswith("GPU-"):
                visible.append(self._by_uuid(entry, count))
            else:
                try:
                    index = int(entry)
                except ValueError:
                    break  # CUDA stops at the first entry it cannot parse
                if not 0 <= index < count:
                    break
                visible.append(index)
        return visible

    def _nvml_indices(self, device: str | None, count: int) -> list[int]:
        visible = self._visible(count)
        if device is None:
            return list(range(count)) if visible is None else visible
        ordinal = _cuda_ordinal(device)
        uuid = _torch_uuid(ordinal)
        if uuid is not None:
            return [self._by_uuid(uuid, count)]
        if visible is None:
            if not 0 <= ordinal < count:
                raise LookupError(f"{device}: NVML sees {count} GPU(s)")
            if count > 1 and os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
                self.notes.append("CUDA ordinal taken as NVML index: set CUDA_DEVICE_ORDER=PCI_BUS_ID (or "
                                  "CUDA_VISIBLE_DEVICES) on a machine of mixed GPUs")
            return [ordinal]
        if not 0 <= ordinal < len(visible):
            raise LookupError(f"{device} is not among CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']!r}")
        return [visible[ordinal]]

    def __bool__(self) -> bool:
        return bool(self.handles)

    def read(self) -> list[int]:
        return [int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self.handles]  # mJ

    def counter_ids(self) -> list[str]:
        return [f"nvml:{uuid}" for uuid in self.uuids]

    @staticmethod
    def joules_between(before: list[int], after: list[int]) -> float:
        return sum(b - a for a, b in zip(before, after)) / 1000.0

class EnergyMeter:
    """Meters the energy of the work done between start and stop.

    >>> with EnergyMeter(device="cuda:0") as meter:
    ...     do_work()
    >>> meter.report.kwh

    ``device`` is what the work runs on (``cpu``, ``cuda``, ``cuda:N``, a ``torch.device``):
    only that GPU's counter is read; ``None`` reads every GPU visible to the process. The
    report says in ``parts["gpu"]`` whether the GPU was measured, and if not, why.

    The meter always reads CPU time, so the estimate is available as a cross-check
    even when counters are measured.
    """

    def __init__(self, grid_gco2_per_kwh: float | None = None, cpu_watts_per_core: float | None = None,
                 *, powercap_root: Path = POWERCAP_ROOT, use_gpu: bool = True, device=None):
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
        self.device = None if device is None else str(device)
        self._rapl = _RaplCounters(powercap_root)
        self._nvml = _NvmlCounters(self.device) if use_gpu else None
        self.gpu_reason = self._nvml.reason if self._nvml is not None else "GPU metering turned off by the caller"
        self.report: EnergyReport | None = None
        self._started = False

    def start(self) -> "EnergyMeter":
        self._t0 = time.monotonic()
        self._wall0 = time.time()
        self._cpu0 = _cpu_seconds()
        self._rapl0 = self._rapl.read() if self._rapl else None
        self._nvml0 = self._nvml.read() if self._nvml else None
        self._started = True
        return self

    def stop(self) -> EnergyReport:
        if not self._started:
            raise RuntimeError("EnergyMeter.stop() called before start()")
        seconds = time.monotonic() - self._t0
        wall1 = time.time()
        cpu_seconds = max(0.0, _cpu_seconds() - self._cpu0)
        host = socket.gethostname()

        def spans(ids, before, after, unit_j, wraps, joules):
            return [{"host": host, "counter": c, "t0": self._wall0, "t1": wall1, "start": b, "end": a,
                     "unit_j": unit_j, "wrap": w, "joules": j}
                    for c, b, a, w, j in zip(ids, before, after, wraps, joules)]

        notes = []
        parts: dict[str, dict] = {}
        if self._rapl:
            after = self._rapl.read()
            per_zone = [_RaplCounters.zone_joules(b, a, m)
                        for (_, m), b, a in zip(self._rapl.zones, self._rapl0, after)]
            cpu_joules = sum(per_zone)
            parts["cpu"] = {"method": "rapl", "measured": True, "scope": "machine", "kwh": cpu_joules / JOULES_PER_KWH,
                            "spans": spans(self._rapl.counter_ids(), self._rapl0, after, 1e-6,
                                           [m for _, m in self._rapl.zones], per_zone)}
            notes.append(f"CPU: RAPL package counters ({len(self._rapl.zones)} package(s)), "
                         "whole package including other processes")
        else:
            cpu_joules = cpu_seconds * self.watts
            parts["cpu"] = {"method": "estimate", "measured": False, "scope": "process",
                            "kwh": cpu_joules / JOULES_PER_KWH, "cpu_seconds": cpu_seconds,
                            "watts_per_core": self.watts}
            notes.append(f"CPU: ESTIMATE, {cpu_seconds:.2f} CPU-seconds x {self.watts:g} W per busy core "
                         f"({self.watts_source}); no readable RAPL counters; idle power not attributed")
        gpu_joules = 0.0
        if self._nvml:
            after = self._nvml.read()
            per_gpu = [(a - b) / 1000.0 for b, a in zip(self._nvml0, after)]
            gpu_joules = sum(per_gpu)
            parts["gpu"] = {"method": "nvml", "measured": True, "scope": "device", "kwh": gpu_joules / JOULES_PER_KWH,
                            "nvml_indices": list(self._nvml.indices),
                            "spans": spans(self._nvml.counter_ids(), self._nvml0, after, 1e-3,
                                           [0] * len(after), per_gpu)}
            notes.append(f"GPU: NVML energy counter of NVML device(s) {', '.join(map(str, self._nvml.indices))} "
                         f"(for {self.device or 'every visible GPU'}), whole device"
                         + "".join(f"; {n}" for n in self._nvml.notes))
        else:
            parts["gpu"] = {"measured": False, "reason": self.gpu_reason}
            notes.append(f"GPU: NOT MEASURED ({self.gpu_reason})")
        kwh = (cpu_joules + gpu_joules) / JOULES_PER_KWH
        method = "nvml" if self._nvml else parts["cpu"]["method"]
        notes.append(f"grid {self.grid:g} gCO2e/kWh ({self.grid_source})")
        self.report = EnergyReport(kwh=kwh, gco2e=kwh * self.grid, method=method, seconds=seconds,
                                   cpu_seconds=cpu_seconds, grid_gco2_per_kwh=self.grid,
                                   assumptions="; ".join(notes), parts=parts,
                                   started_at=self._wall0, ended_at=wall1)
        self._started = False
        return self.report

    def __enter__(self) -> "EnergyMeter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- adding up the reports of parts of one run -------------------------------------------------
#
# Why not a plain sum: the RAPL and NVML counters belong to the machine (a CPU package, a
# whole GPU), not to the process. With ``--workers N`` (a process pool or Ray tasks) N
# segments run at once on one machine and each reads the same counters over overlapping
# spans of time, so adding their readings counts the machine's energy up to N times. The
# other design, one meter in the batch driver over the whole run, would miss segments on
# other Ray nodes and could not say what each job cost. So every report keeps, per counter,
# where (host, counter id) and when (wall-clock t0..t1) it read what (start..end), and
# ``combine`` counts each counter over the UNION of the spans: spans of the same counter
# that overlap are merged and the counter's increase over the merged span is taken once.
# That is exact, not a share-out (the counter is monotonic, so its increase over the union
# is known from the readings at the ends). CPU-time estimates are per process (os.times of
# the process and its children), so they add. A job's figure is the machine's energy while
# its segments ran (other work on the machine included, as for one meter); the same rule
# over jobs gives the batch total without counting concurrent jobs twice.


def _counter_delta(before: int, after: int, wrap: int) -> int:
    delta = after - before
    if delta < 0:
        # a wrap (RAPL) shows as a large negative step; a small one is the readings of two processes
        # taken a moment apart in the other order than their timestamps: nothing between them
        delta = delta + wrap if wrap and -delta > wrap / 2 else 0
    return delta


def merge_spans(spans: list[dict]) -> list[dict]:
    """Spans of the same (host, counter) that overlap in time, merged; each with its ``joules`` over the union."""
    groups: dict[tuple, list[dict]] = {}
    for span in spans:
        groups.setdefault((span["host"], span["counter"]), []).append(span)
    merged = []
    for group in groups.values():
        current = None
        for span in sorted(group, key=lambda s: (s["t0"], s["t1"])):
            if current is None or span["t0"] > current["t1"]:
                current = dict(span)
                merged.append(current)
                continue
            if span["t1"] <= current["t1"]:
                continue  # inside the merged span: already counted
            unit, wrap = current["unit_j"], current.get("wrap", 0)
            # the union grows by the tail beyond the merged span; take it from the readings over the shorter
            # stretch (a RAPL counter may wrap over a long one)
            if span["t1"] - current["t1"] <= current["t1"] - span["t0"]:
                current["joules"] += _counter_delta(current["end"], span["end"], wrap) * unit
            else:
                overlap = _counter_delta(span["start"], current["end"], wrap) * unit
                current["joules"] += max(0.0, span["joules"] - overlap)
            current["t1"], current["end"] = span["t1"], span["end"]
    return merged


def _union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, None
    for t0, t1 in sorted(intervals):
        if end is None or t0 > end:
            total += t1 - t0
            end = t1
        elif t1 > end:
            total += t1 - end
            end = t1
    return total


def combine(records: list[dict | None]) -> dict | None:
    """One energy record for work metered in parts (segments, assembly, jobs of a batch), which may have
    run at the same time: per-process estimates add, machine counters count each overlap once."""
    records = [r for r in records if r]
    if not records:
        return None
    grid = records[0].get("grid_gco2_per_kwh") or 0.0
    additive = {"cpu": 0.0, "gpu": 0.0}
    spans: dict[str, list[dict]] = {"cpu": [], "gpu": []}
    methods: dict[str, set] = {"cpu": set(), "gpu": set()}
    reasons: set[str] = set()
    legacy = legacy_gco2e = 0.0
    legacy_count = 0
    for record in records:
        parts = record.get("parts")
        if not parts:  # written by an older version: all we can do is add it
            legacy += record.get("kwh", 0.0)
            legacy_gco2e += record.get("gco2e", 0.0)
            legacy_count += 1
            continue
        for name, part in parts.items():
            if not part.get("measured", True) and part.get("method") != "estimate":
                reasons.add(part.get("reason") or "not measured")
                continue
            methods.setdefault(name, set()).add(part.get("method", "?"))
            if part.get("spans"):
                spans.setdefault(name, []).extend(part["spans"])
            else:
                additive[name] = additive.get(name, 0.0) + part.get("kwh", 0.0)
    out_parts: dict[str, dict] = {}
    kwh = legacy
    for name in sorted(set(additive) | set(spans)):
        merged = merge_spans(spans.get(name, []))
        part_kwh = additive.get(name, 0.0) + sum(s["joules"] for s in merged) / JOULES_PER_KWH
        if not methods.get(name):
            continue
        kwh += part_kwh
        out_parts[name] = {"method": "+".join(sorted(methods[name])), "measured": "estimate" not in methods[name],
                           "scope": "machine counters over the union of the parts' spans" if merged else "process",
                           "kwh": part_kwh}
        if merged:
            out_parts[name]["spans"] = merged
    if "gpu" not in out_parts:
        out_parts["gpu"] = {"measured": False, "reason": "; ".join(sorted(reasons)) or "not measured"}
    all_methods = sorted({r.get("method", "?") for r in records})
    intervals = [(r["started_at"], r["ended_at"]) for r in records
                 if r.get("started_at") is not None and r.get("ended_at") is not None]
    worker_seconds = sum(r.get("seconds", 0.0) for r in records)
    notes = [f"{len(records)} metered parts (segments, possibly in other processes or nodes at the same "
             "time, and the final assembly): CPU-time estimates added; RAPL/NVML counters taken once over the "
             "union of the parts' spans, per counter, so concurrent workers are not counted twice"]
    if legacy_count:
        notes.append(f"{legacy_count} part(s) recorded by an older version were added as they are")
    out = {"kwh": kwh, "gco2e": (kwh - legacy) * grid + legacy_gco2e,
           "method": all_methods[0] if len(all_methods) == 1 else "+".join(all_methods),
           "seconds": _union_seconds(intervals) if len(intervals) == len(records) else worker_seconds,
           "worker_seconds": worker_seconds,
           "cpu_seconds": sum(r.get("cpu_seconds", 0.0) for r in records),
           "grid_gco2_per_kwh": records[0].get("grid_gco2_per_kwh"),
           "assumptions": f"{records[0].get('assumptions', '')} ({'; '.join(notes)})",
           "is_estimate": any(r.get("is_estimate", True) for r in records),
           "parts": out_parts}
    if intervals:
        out["started_at"], out["ended_at"] = min(t for t, _ in intervals), max(t for _, t in intervals)
    return out
