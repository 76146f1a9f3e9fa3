"""The one registry shape (restore.registry): eager, lazy and decorated entries; one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from restore.errors import UserError
from restore.registry import Registry, UnknownNameError


def test_register_eager_lazy_and_decorated():
    reg: Registry[object] = Registry("widget")
    reg.register("a", len)
    reg.register("b", lazy="fractions:Fraction")

    @reg.register("c", info={"example": {"x": 1}})
    def c():
        return "c"

    from fractions import Fraction

    assert reg.names() == ["a", "b", "c"] and "b" in reg and "z" not in reg
    assert reg.get("a") is len and reg["b"] is Fraction and reg.get("c") is c
    assert reg.info("c") == {"example": {"x": 1}} and reg.info("a") == {}
    assert list(reg) == ["a", "b", "c"] and len(reg) == 3


def test_unknown_name_is_one_line_listing_known_names():
    reg: Registry[object] = Registry("widget")
    reg.register("alpha", 1)
    with pytest.raises(UnknownNameError) as info:
        reg.get("beta")
    assert str(info.value) == "unknown widget 'beta' (known: alpha)"
    assert isinstance(info.value, UserError) and isinstance(info.value, KeyError)


def test_a_name_taken_twice_is_an_error():
    reg: Registry[object] = Registry("widget")
    reg.register("a", len)
    reg.register("a", len)                      # the same object again: a re-import, allowed
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a", max)
    with pytest.raises(ValueError, match="module:attribute"):
        reg.register("b", lazy="no-colon")


def test_finder_is_asked_for_missing_names_and_once_for_all():
    asked: list[str | None] = []
    reg: Registry[int] = Registry("number")

    def finder(name: str | None) -> None:
        asked.append(name)
        if name in ("one", None):
            reg.register("one", 1)

    reg._finder = finder
    assert reg.get("one") == 1 and asked == ["one"]
    assert reg.names() == ["one"] and reg.names() == ["one"]
    assert asked == ["one", None]


def test_lazy_entries_import_nothing_until_used():
    """Listing architectures or stages imports neither basicsr nor the stage modules' heavy deps."""
    code = ("import sys\n"
            "from restore.models.archs import ARCHS\n"
            "names = ARCHS.names()\n"
            "assert 'RRDBNet' in names and 'WindowFusionSR' in names, names\n"
            "assert 'basicsr' not in sys.modules, 'listing imported basicsr'\n"
            "ARCHS.get('RRDBNet')\n"
            "assert 'basicsr.archs.rrdbnet_arch' in sys.modules\n"
            "from restore.pipeline.registry import get_stage\n"
            "get_stage('levels')\n"
            "assert 'restore.stages.superres' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_stage_and_architecture_lookups_keep_their_errors():
    from restore.errors import PipelineError
    from restore.models.archs import arch_class
    from restore.pipeline.registry import get_stage

    with pytest.raises(PipelineError, match=r"unknown architecture 'Nope' \(known: .*RRDBNet"):
        arch_class("Nope")
    with pytest.raises(KeyError, match=r"unknown stage 'nope' \(known: .*superres"):
        get_stage("nope")
