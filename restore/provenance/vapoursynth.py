"""VapourSynth in the provenance ``software`` block, when a stage ran one of its methods.

VapourSynth filters run in their own Python 3.12 environment (restore/stages/_vapoursynth.py),
so their versions are not this interpreter's: they are read from that environment, once per
process, and only when a stage's recorded ``method_used`` is a VapourSynth method. The block
names the core release, each stage that went through it with the plugins its method calls
(restore/stages/vs_worker.py), those plugins' versions, and the versions of the Python
distributions that carry VapourSynth and its plugins.
"""

from __future__ import annotations

import json
import subprocess
from functools import lru_cache

# (stage, method) → the plugin namespaces (core.NAMESPACE) vs_worker.py calls for it. Every
# job also goes through std (the frame source) and resize (RGB ⇄ YUV444P16). QTGMC is
# vsjetpack's: it chooses among the installed plugins itself, so "*" records all of them.
# tests/provenance/test_vapoursynth_software.py checks that every VapourSynth method of every
# stage is in this table.
ALWAYS = ("std", "resize")
USES: dict[tuple[str, str], tuple[str, ...]] = {
    ("deinterlace", "nnedi3"): ("znedi3",),
    ("deinterlace", "qtgmc"): ("*",),
    ("denoise", "mdegrain"): ("mv",),
    ("denoise", "dfttest"): ("dfttest2_cpu",),
    ("dust", "mc-median"): ("mv", "akarin"),
    ("scratches", "descratch"): ("descratch",),
}
# Python distributions in that environment whose versions the block records, besides every
# vapoursynth* one: the QTGMC implementation and the dfttest2 front end.
PACKAGES = ("vsjetpack", "dfttest2")

_QUERY = """
import json, sys
from importlib import metadata
import vapoursynth as vs
core = vs.core
core_version = str(core.core_version) if hasattr(core, "core_version") else f"R{core.version_number()}"
api_version = str(core.api_version) if hasattr(core, "api_version") else None
plugins = {}
for p in core.plugins():
    v = getattr(p, "version", None)
    plugins[p.namespace] = {"id": p.identifier,
                            "version": f"{v.major}.{v.minor}" if hasattr(v, "major") else (str(v) if v else None)}
wanted = set(sys.argv[1:])
packages = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"] or ""
    if name.lower().startswith("vapoursynth") or name.lower() in wanted:
        packages[name] = dist.version
print(json.dumps({
    "core": core_version, "api": api_version,
    "python": sys.version.split()[0], "plugins": plugins, "packages": dict(sorted(packages.items()))}))
"""


def vapoursynth_stages(stages: list[dict] | None) -> list[dict]:
    """The stages whose recorded method ran in VapourSynth, with the plugins it calls."""
    used = []
    for stage in stages or []:
        key = (stage.get("stage"), stage.get("method_used"))
        if key in USES:
            used.append({"stage": key[0], "method": key[1], "plugins": [*ALWAYS, *USES[key]]})
    return used


@lru_cache(maxsize=4)
def environment(python: str) -> dict:
    """The VapourSynth environment at ``python``: core release, plugins, distributions ({"error": …} if unreadable)."""
    try:
        done = subprocess.run([python, "-c", _QUERY, *PACKAGES], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["query failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def software_entry(stages: list[dict] | None, python: str | None = None) -> dict | None:
    """The ``software.vapoursynth`` block: None when no stage ran in VapourSynth."""
    used = vapoursynth_stages(stages)
    if not used:
        return None
    if python is None:
        from restore.stages._vapoursynth import vs_python

        python = str(vs_python())
    env = environment(python)
    if "error" in env:
        return {"stages": used, "error": env["error"]}
    names = {name for entry in used for name in entry["plugins"]}
    plugins = env["plugins"] if "*" in names else {n: env["plugins"].get(n) for n in sorted(names)}
    return {"core": env["core"], "api": env["api"], "python": env["python"], "stages": used,
            "plugins": plugins, "packages": env["packages"]}
