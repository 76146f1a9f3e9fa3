"""The energy meter: estimate here (no RAPL, no GPU), RAPL arithmetic on a sysfs-shaped tree."""

import time

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
