"""A non-editable install works: build the wheel, install it into a fresh venv, restore the sample.

The wheel must carry the pipelines, weights and the sample (restore.resources.SHIPPED) and the
installed package must find them by importlib.resources, not in the checkout: the run happens
in a folder outside the repo, without PYTHONPATH, and the test checks that the package it
imported is the installed one.

The fresh venv does not download restore's dependencies (torch alone is ~5.5 GB): a .pth file
in its site-packages appends the site-packages of the environment running the tests. Python
only adds the folder a .pth names to sys.path; it does not process the .pth files inside it,
so the editable install of the checkout that environment may hold (its __editable__ finder)
stays out, and the venv's own site-packages, holding the wheel, comes first. What this
leaves untested, the dependency resolution, is what `make install LOCKED=1` and `pip check`
cover. `--system-site-packages` would not do: it exposes the base interpreter's packages,
not the project venv's.

Needs setuptools in the running environment (the wheel is built offline, without build
isolation) and ffmpeg; skipped with the reason otherwise. About 35-70 s on 2 cores.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from restore import resources
from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.packaging]

SOURCE_FILES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md"]
MAX_WHEEL_BYTES = 20 * 1024 * 1024


def _require_build_tools() -> None:
    try:
        import setuptools
    except ImportError:
        pytest.skip("building the wheel offline needs setuptools in this environment (pip install setuptools)")
    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (70, 1):     # bdist_wheel built in since
        try:
            import wheel  # noqa: F401
        except ImportError:
            pytest.skip("building the wheel offline needs setuptools >= 70.1 or the wheel package")
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed")


def _copy_source(dest: Path) -> Path:
    """The files a build reads, copied out of the checkout so the build leaves nothing in it."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "_data")
    for folder in ["restore", *resources.SHIPPED]:
        shutil.copytree(REPO / folder, dest / folder, ignore=skip)
    for name in SOURCE_FILES:
        shutil.copy2(REPO / name, dest / name)
    return dest


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_STATE_HOME=str(home / ".local/state"), XDG_CACHE_HOME=str(home / ".cache"),
               PYTHONDONTWRITEBYTECODE="1")
    return env


def _frame_count(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout)["streams"][0]["nb_read_frames"])


def _models_users_run() -> set[str]:
    """The weights the preset pipelines name, and the stages' own defaults."""
    from restore import safeyaml
    from restore.stages.faces import FacesParams
    from restore.stages.superres import SuperResParams

    named = {FacesParams.weights, SuperResParams.weights}
    for path in (REPO / "pipelines").glob("*.yaml"):
        for stage in safeyaml.load(path.read_text(encoding="utf-8")).get("stages", []):
            if isinstance(stage, dict) and "weights" in stage:
                named.add(stage["weights"])
    return named


def test_wheel_installs_and_runs_default_pipeline_outside_the_repo(tmp_path):
    _require_build_tools()
    src = _copy_source(tmp_path / "src")
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "--no-index", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("restore-*.whl")

    # What goes in: every shipped file, and nothing that makes the wheel heavy.
    assert wheel.stat().st_size < MAX_WHEEL_BYTES, f"wheel is {wheel.stat().st_size} bytes"
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, patterns in resources.SHIPPED.items():
        for pattern in patterns:
            for path in (REPO / folder).glob(pattern):
                assert f"restore/_data/{folder}/{path.relative_to(REPO / folder)}" in names, path
    # every model a shipped pipeline or a stage default runs is in; the training chain's steps are not
    shipped_models = {n.rsplit("/", 1)[-1].removesuffix(".safetensors") for n in names if n.endswith(".safetensors")}
    assert _models_users_run() <= shipped_models, _models_users_run() - shipped_models
    assert "restore-vsr-x2-v4" not in shipped_models and "restore-vsr-x2" not in shipped_models
    assert any(n.startswith("restore/review/assets/") for n in names)      # package data as before
    assert not any(n.startswith(("tests/", "benchmarks/", "corpora/")) for n in names)

    # A fresh venv that sees this environment's packages (see the module docstring), then the wheel.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    shared = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib, "zz-restore-test-shared.pth").write_text("".join(f"{p}\n" for p in shared))
    home = tmp_path / "home"
    home.mkdir()
    env = _clean_env(home)
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, env=env, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([str(python), "-c", "import json, restore, restore.resources as r; print(json.dumps("
                            "[restore.__file__, str(r.sample()), str(r.weights_dir()), str(r.source_root())]))"],
                           capture_output=True, text=True, env=env, cwd=outside, check=True)
    package_file, sample, weights, checkout = json.loads(where.stdout)
    assert Path(package_file).is_relative_to(env_dir), package_file
    assert Path(sample).is_relative_to(env_dir) and Path(sample).is_file(), sample
    assert checkout == "None"

    # The basicsr fix (restore/models/compat.py) travels in the wheel: NIQE imports where basicsr is installed.
    if importlib.util.find_spec("basicsr") is not None:
        niqe = subprocess.run([str(python), "-c", "import restore.models.compat; from basicsr.metrics.niqe import "
                               "calculate_niqe"], capture_output=True, text=True, env=env, cwd=outside, timeout=300)
        assert niqe.returncode == 0, niqe.stderr[-2000:]

    out = outside / "out.mkv"
    run = subprocess.run([str(env_dir / "bin" / "restore"), "run", sample, "-o", str(out), "-p", "default",
                          "--frames", "3", "-q"], capture_output=True, text=True, env=env, cwd=outside, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _frame_count(out) == 3

    record = json.loads(Path(f"{out}.provenance.json").read_text())["record"]
    models = {m["name"]: m for m in record["models"]}
    assert "restore-vsr-x2-v5" in models, record["models"]
    shipped = Path(weights) / "restore-vsr-x2-v5.safetensors"
    assert models["restore-vsr-x2-v5"]["sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert shipped.read_bytes() == (REPO / "weights" / "restore-vsr-x2-v5.safetensors").read_bytes()
    assert record["pipeline"]["name"] == "default"
    assert str(REPO) not in json.dumps(record["pipeline"]), "the pipeline was read from the checkout"

    # The review report's assets are package data too.
    report = outside / "report"
    compared = subprocess.run([str(env_dir / "bin" / "restore"), "compare", str(out), str(out), "-o", str(report)],
                              capture_output=True, text=True, env=env, cwd=outside, timeout=300)
    assert compared.returncode == 0, compared.stderr[-3000:]
    assert all((report / name).is_file() for name in ("index.html", "review.css", "review.js"))
