"""The energy meter: estimate here (no RAPL, no GPU), RAPL arithmetic on a sysfs-shaped tree, NVML faked at
the library boundary (which GPU is read, what the record says when none is), and parts metered at the same
time (``--workers N``) added without counting the machine's counters N times."""

import sys
import time
from pathlib import Path

import pytest

from restore.energy import DEFAULT_GRID_GCO2_PER_KWH, JOULES_PER_KWH, EnergyMeter
from restore.errors import UserError


def _busy(seconds: float) -> int:
    end, n = time.process_time() + seconds, 0
    while time.process_time() < end:
        n += 1
    return n


def test_busy_loop_is_estimated_and_labelled(tmp_path):
    with EnergyMeter(cpu_watts_per_core=10.0, powercap_root=tmp_path, use_gpu=False) as meter:
        _busy(0.3)
    report = meter.report
    assert report.method == "estimate" and report.is_estimate
    assert report.cpu_seconds >= 0.25
    # 10 W × CPU seconds, within the rounding of os.times()
    assert report.kwh * JOULES_PER_KWH == pytest.approx(10.0 * report.cpu_seconds)
    assert report.kwh > 0
    assert report.gco2e == pytest.approx(report.kwh * DEFAULT_GRID_GCO2_PER_KWH)
    assert "ESTIMATE" in report.assumptions and "10 W" in report.assumptions
    assert "(estimate)" in report.summary()
    assert report.as_dict()["is_estimate"] is True


def test_grid_and_watts_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESTORE_GRID_GCO2_PER_KWH", "400")
    monkeypatch.setenv("RESTORE_CPU_WATTS_PER_CORE", "20")
    with EnergyMeter(powercap_root=tmp_path, use_gpu=False) as meter:
        _busy(0.1)
    r = meter.report
    assert r.grid_gco2_per_kwh == 400
    assert r.kwh * JOULES_PER_KWH == pytest.approx(20.0 * r.cpu_seconds)
    assert "RESTORE_GRID_GCO2_PER_KWH" in r.assumptions


def test_bad_environment_value_is_a_user_error(monkeypatch):
    monkeypatch.setenv("RESTORE_GRID_GCO2_PER_KWH", "lots")
    with pytest.raises(UserError):
        EnergyMeter()


def test_rapl_counters_with_wraparound(tmp_path):
    zone = tmp_path / "intel-rapl:0"
    sub = tmp_path / "intel-rapl:0:0"  # a core sub-zone: must not be counted twice
    for z, start in ((zone, 999_000_000), (sub, 5)):
        z.mkdir()
        (z / "energy_uj").write_text(f"{start}\n")
        (z / "max_energy_range_uj").write_text("1000000000\n")
    meter = EnergyMeter(powercap_root=tmp_path, use_gpu=False).start()
    (zone / "energy_uj").write_text("2000000\n")  # wrapped: 1 J before the wrap + 2 J after
    (sub / "energy_uj").write_text("999999\n")
    report = meter.stop()
    assert report.method == "rapl" and not report.is_estimate
    assert report.kwh * JOULES_PER_KWH == pytest.approx(3.0)


def test_this_machine_falls_back_to_estimate():
    # The build machines have neither RAPL nor NVML (NOTES.md): the default meter must say so.
    with EnergyMeter() as meter:
        _busy(0.05)
    if meter.report.method == "estimate":
        assert meter.report.is_estimate and meter.report.kwh > 0
    else:
        assert meter.report.parts["cpu"]["method"] in ("rapl", "estimate")


# --- NVML faked at the library boundary: which GPU is read, and what the record says ------------

class FakeNvml:
    """Stands for the ``pynvml`` module: GPUs by NVML index, each with a total-energy counter in mJ."""

    def __init__(self, uuids):
        self.uuids = list(uuids)
        self.energy_mj = [1_000_000 * (i + 1) for i in range(len(self.uuids))]
        self.read_indices = []

    def nvmlInit(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.uuids)

    def nvmlDeviceGetHandleByIndex(self, index):
        if not 0 <= index < len(self.uuids):
            raise RuntimeError(f"NVML_ERROR_INVALID_ARGUMENT: {index}")
        return ("handle", index)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self.read_indices.append(handle[1])
        return self.energy_mj[handle[1]]

    def nvmlDeviceGetUUID(self, handle):
        return self.uuids[handle[1]]

    def nvmlDeviceGetName(self, handle):
        return "NVIDIA H200"

    def spend(self, index, joules):
        self.energy_mj[index] += int(joules * 1000)


UUIDS = ["GPU-aaaa0000-0000", "GPU-bbbb1111-1111", "GPU-cccc2222-2222", "GPU-dddd3333-3333"]


@pytest.fixture
def nvml(monkeypatch):
    fake = FakeNvml(UUIDS)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    return fake


def test_cuda_visible_devices_maps_the_cuda_ordinal_to_the_nvml_index(nvml, monkeypatch, tmp_path):
    # CUDA sees GPUs 2 and 3 as cuda:0 and cuda:1; NVML ignores the variable and numbers all four
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    meter = EnergyMeter(powercap_root=tmp_path, device="cuda:1").start()
    for index in range(4):
        nvml.spend(index, 100.0 * (index + 1))    # every GPU busy: only GPU 3's 400 J are ours
    report = meter.stop()
    assert set(nvml.read_indices) == {3}
    gpu = report.parts["gpu"]
    assert gpu["measured"] is True and gpu["nvml_indices"] == [3]
    assert gpu["kwh"] * JOULES_PER_KWH == pytest.approx(400.0)
    assert report.method == "nvml" and "NVML device(s) 3" in report.assumptions


@pytest.mark.parametrize("visible,device,chosen,other", [
    ("GPU-dddd3333,GPU-bbbb", "cuda:1", 1, 3),    # by UUID: unique prefixes, in CUDA's order
    (None, "cuda", 0, 1),                          # no variable: plain cuda is GPU 0
])
def test_the_gpu_read_is_the_one_the_run_uses(nvml, monkeypatch, tmp_path, visible, device, chosen, other):
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    meter = EnergyMeter(powercap_root=tmp_path, device=device).start()
    nvml.spend(chosen, 50.0)
    nvml.spend(other, 70.0)
    report = meter.stop()
    assert set(nvml.read_indices) == {chosen}
    assert report.parts["gpu"]["kwh"] * JOULES_PER_KWH == pytest.approx(50.0)


def test_a_cpu_run_reads_no_gpu(nvml, tmp_path):
    with EnergyMeter(powercap_root=tmp_path, device="cpu") as meter:
        nvml.spend(0, 500.0)
    assert nvml.read_indices == []
    assert meter.report.parts["gpu"] == {"measured": False, "reason": "run on cpu: no GPU used"}
    assert meter.report.method == "estimate" and meter.report.is_estimate


def test_an_ordinal_hidden_by_cuda_visible_devices_is_not_measured(nvml, monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    with EnergyMeter(powercap_root=tmp_path, device="cuda:1") as meter:
        pass
    assert nvml.read_indices == []
    gpu = meter.report.parts["gpu"]
    assert gpu["measured"] is False and "CUDA_VISIBLE_DEVICES" in gpu["reason"]


def test_record_says_gpu_not_measured_without_nvidia_ml_py(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pynvml", None)    # import pynvml raises ImportError
    with EnergyMeter(powercap_root=tmp_path, device="cuda:0") as meter:
        _busy(0.02)
    record = meter.report.as_dict()
    assert record["parts"]["gpu"]["measured"] is False
    assert "nvidia-ml-py not installed" in record["parts"]["gpu"]["reason"]
    assert "GPU: NOT MEASURED (nvidia-ml-py not installed" in record["assumptions"]
    # the CPU part is an estimate, and labelled so
    assert record["parts"]["cpu"]["method"] == "estimate" and record["parts"]["cpu"]["measured"] is False
    assert record["is_estimate"] is True


# --- --workers N: parts that ran at the same time read the same machine counters ----------------

def test_concurrent_segments_do_not_count_the_gpu_n_times(nvml, tmp_path):
    from restore.batch.segments import sum_energy

    # three workers on one GPU, their segments overlapping in time, as with --workers 3
    meters = [EnergyMeter(powercap_root=tmp_path, device="cuda:0", cpu_watts_per_core=0.0).start()
              for _ in range(3)]
    nvml.spend(0, 300.0)          # the GPU spent 300 J while they all ran
    records = [m.stop().as_dict() for m in meters]
    assert all(r["parts"]["gpu"]["kwh"] * JOULES_PER_KWH == pytest.approx(300.0) for r in records)
    total = sum_energy(records)
    assert total["kwh"] * JOULES_PER_KWH == pytest.approx(300.0)          # not 900
    assert total["parts"]["gpu"]["kwh"] * JOULES_PER_KWH == pytest.approx(300.0)
    assert total["gco2e"] == pytest.approx(total["kwh"] * DEFAULT_GRID_GCO2_PER_KWH)


def test_sequential_segments_add_up(nvml, tmp_path):
    from restore.batch.segments import sum_energy

    records = []
    for joules in (100.0, 250.0):
        meter = EnergyMeter(powercap_root=tmp_path, device="cuda:0", cpu_watts_per_core=0.0).start()
        nvml.spend(0, joules)
        records.append(meter.stop().as_dict())
        time.sleep(0.01)
        nvml.spend(0, 1000.0)     # between segments: nobody's
    total = sum_energy(records)
    assert total["kwh"] * JOULES_PER_KWH == pytest.approx(350.0)


def _span(counter, t0, t1, start, end, host="node-a", unit_j=1.0, wrap=0):
    return {"host": host, "counter": counter, "t0": t0, "t1": t1, "start": start, "end": end,
            "unit_j": unit_j, "wrap": wrap, "joules": float(_delta(start, end, wrap))}


def _delta(start, end, wrap):
    return end - start if end >= start else end + wrap - start


def _record(spans, t0, t1, method="nvml"):
    return {"kwh": sum(s["joules"] for s in spans) / JOULES_PER_KWH, "gco2e": 0.0, "method": method,
            "seconds": t1 - t0, "cpu_seconds": 0.0, "grid_gco2_per_kwh": 52.0, "started_at": t0, "ended_at": t1,
            "is_estimate": False,
            "parts": {"cpu": {"method": "estimate", "measured": False, "scope": "process", "kwh": 1.0 / JOULES_PER_KWH},
                      "gpu": {"method": "nvml", "measured": True, "scope": "device",
                              "kwh": sum(s["joules"] for s in spans) / JOULES_PER_KWH, "spans": spans}}}


def test_overlapping_worker_intervals_take_the_union():
    from restore.energy import combine

    # counter readings of one GPU at 0 s: 0 J, 10 s: 100 J, 15 s: 160 J, 25 s: 300 J, 40 s: 500 J, 50 s: 600 J
    a = _record([_span("nvml:GPU-a", 0, 15, 0, 160)], 0, 15)       # worker 1
    b = _record([_span("nvml:GPU-a", 10, 25, 100, 300)], 10, 25)   # worker 2, overlapping it
    c = _record([_span("nvml:GPU-a", 40, 50, 500, 600)], 40, 50)   # later, alone
    d = _record([_span("nvml:GPU-a", 10, 15, 100, 160, host="node-b")], 10, 15)   # another node's GPU
    total = combine([a, b, c, d])
    # the union of [0, 25] and [40, 50] on node-a: 300 + 100 J; node-b's GPU adds its 60 J;
    # the CPU-time estimates (1 J each, per process) add
    assert total["parts"]["gpu"]["kwh"] * JOULES_PER_KWH == pytest.approx(460.0)
    assert total["parts"]["cpu"]["kwh"] * JOULES_PER_KWH == pytest.approx(4.0)
    assert total["kwh"] * JOULES_PER_KWH == pytest.approx(464.0)
    assert total["seconds"] == pytest.approx(35.0) and total["worker_seconds"] == pytest.approx(45.0)
    # the result is itself a record: combining jobs of a batch (overlapping again) still counts once
    again = combine([total, _record([_span("nvml:GPU-a", 20, 45, 250, 550)], 20, 45)])
    assert again["parts"]["gpu"]["kwh"] * JOULES_PER_KWH == pytest.approx(660.0)   # [0, 50]: 600 + node-b 60


def test_rapl_spans_of_concurrent_workers_merge_across_a_wrap():
    from restore.energy import merge_spans

    wrap = 1000
    # one package counter wrapping at 1000 J: 900 J at 0 s, 950 at 5 s, 1100 (=100) at 10 s, 1200 (=200) at 20 s
    spans = [_span("rapl:intel-rapl:0", 0, 10, 900, 100, wrap=wrap),
             _span("rapl:intel-rapl:0", 5, 20, 950, 200, wrap=wrap)]
    merged = merge_spans(spans)
    assert len(merged) == 1 and merged[0]["joules"] == pytest.approx(300.0)


def test_batch_total_counts_concurrent_jobs_once():
    from restore.batch.status import BatchStatus, JobStatus, summary_table

    status = BatchStatus(Path("/nonexistent/status.json"), Path("jobs.toml"), "local")
    for name, (t0, t1, s, e) in {"a": (0, 20, 0, 200), "b": (10, 30, 100, 300)}.items():
        job = JobStatus(job_id=name, source=f"{name}.mkv", output=f"{name}-out.mkv", state="done",
                        frames_total=10, frames_done=10, restored_minutes=1.0)
        rec = _record([_span("nvml:GPU-a", t0, t1, s, e)], t0, t1)
        rec["parts"]["cpu"]["kwh"] = 0.0
        rec["kwh"] = 200.0 / JOULES_PER_KWH
        rec["gco2e"] = rec["kwh"] * 52.0
        job.energy = rec
        status.jobs[name] = job
    total_row = summary_table(status)[-1]
    # 300 J over 2 restored minutes: 4.17e-05 kWh/min, not the 400 J (5.56e-05) of a plain sum
    assert f"{300.0 / JOULES_PER_KWH / 2:.2e}" in total_row
