"""Where restore's shipped data lives: the preset pipelines, our trained weights, the demo sample.

The source tree keeps them as top-level folders beside the package (``pipelines/``,
``weights/``, ``samples/``: the design card's layout). A wheel ships them as package data
under ``restore/_data/`` (setup.py copies them there at build time), so a non-editable
install (``pip install .``, ``pipx install``) finds them with :mod:`importlib.resources`
wherever it lies. A checkout or an editable install (``pip install -e .``, as ``make
install`` does) has no ``restore/_data``, and the folders are read in place.

Everything that looks for these folders asks this module; nothing else counts
``parents[…]`` up from a source file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# The folders shipped inside the wheel (as restore/_data/NAME), and what of each goes in:
# setup.py reads this table, so the wheel and the lookups below cannot disagree.
SHIPPED = {
    "pipelines": ["*.yaml", "training/*.yaml"],
    # The models a user runs: the presets' (restore-vsr-x2-v5, the face model), the fast single-frame
    # SR, the venue-adapted example and restore-face-v1 (the faces stage's default until 2026-12-06).
    # The training chain's steps (restore-vsr-x2 … -v4, earlier face models a later one continued)
    # stay in the checkout's weights/ for `make weights` and the benches; the sdist carries them all.
    "weights": ["restore-vsr-x2-v5.*", "restore-face-v5.*", "restore-face-v1.*", "restore-sr-x2.*",
                "restore-sr-x2-venue.*", "README.md"],
    "samples": ["speech-pal-sample.mkv", "SOURCES.md"],
}

_PACKAGE = Path(__file__).resolve().parent


def _packaged(name: str) -> Path | None:
    """restore/_data/NAME inside an installed wheel, as a real folder (pip unpacks wheels)."""
    shipped = resources.files("restore") / "_data" / name
    return Path(str(shipped)) if isinstance(shipped, Path) and shipped.is_dir() else None


def source_root() -> Path | None:
    """The checkout this package runs from (editable install or PYTHONPATH), None in a wheel install."""
    root = _PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() and (root / "pipelines").is_dir() else None


def import_root() -> Path:
    """The folder ``import restore`` resolves from (a checkout or site-packages), for child processes."""
    return _PACKAGE.parent


def data_dir(name: str) -> Path:
    """One of the shipped folders (``pipelines``, ``weights``, ``samples``)."""
    if name not in SHIPPED:
        raise KeyError(name)
    return _packaged(name) or _PACKAGE.parent / name


def pipelines_dir() -> Path:
    return data_dir("pipelines")


def weights_dir() -> Path:
    return data_dir("weights")


def sample(name: str = "speech-pal-sample.mkv") -> Path:
    return data_dir("samples") / name
