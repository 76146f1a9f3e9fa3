"""The debian corpus: copyright-file parsing, the photo check, manifest roots, texture crops, the committed manifest."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restore.training import photo_check
from restore.training.corpus import Corpus, resolve_root
from restore.training.crops import INDEX_COLUMNS, choose_crops, export_crops
from restore.training.dep5 import CopyrightFile, quoted_in, spdx_from_debian

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
DEBIAN = REPO / "corpora" / "debian"


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_debian", REPO / "corpora" / "build_debian.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# -- copyright files ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dep5():
    return CopyrightFile.parse((FIXTURES / "copyright-dep5.txt").read_text())


def test_per_file_paragraph_wins_over_the_catch_all(dep5):
    found = dep5.statement_for("usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg",
                               source_path="16.04/Bridge_by_Sander_Klootwijk.jpg")
    assert found.spdx == "CC-BY-SA-4.0" and found.copyright == "2018. Sander Klootwijk" and not found.catch_all


def test_installed_path_alone_falls_back_to_the_catch_all(dep5):
    # the package installs 16.04/ as usr/share/backgrounds/: without the mapping only "*" matches
    found = dep5.statement_for("usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg")
    assert found.spdx == "GPL-2.0-or-later" and found.catch_all and found.copyright == "2018-2020 Example Wallpaper Team"


def test_patterns_match_a_trailing_part_of_the_installed_path(dep5):
    found = dep5.statement_for("usr/share/backgrounds/mate/nature/Dual.jpg")
    assert found.pattern == "nature/Dual.jpg"
    assert found.spdx == "LGPL-3.0-or-later"  # "A or B": the first accepted alternative
    assert dep5.statement_for("usr/share/pixmaps/icons/a/b.png").spdx == "MIT"  # Expat, * spans folders


def test_glob_wildcards_and_continuation_lines(dep5):
    seeding = dep5.statement_for("x/16.04/seeding_by_Clements_Engelhardt.jpg")
    assert seeding.spdx == "CC0-1.0" and seeding.copyright == "Clemens Engelhardt, 2018; and a second line"
    assert dep5.statement_for("x/16.04/extra1.png").spdx == "CC0-1.0"
    assert dep5.statement_for("x/16.04/extra12.png").catch_all  # ? is one character


def test_non_free_and_conjunctive_licences_are_refused_with_a_reason(dep5):
    nc = dep5.statement_for("usr/share/nature/NonCommercial.jpg")
    assert nc.spdx is None and "commercial" in nc.why_refused
    both = dep5.statement_for("usr/share/nature/Both.jpg")
    assert both.spdx is None and both.why_refused


def test_free_form_copyright_is_not_guessed():
    text = (FIXTURES / "copyright-freeform.txt").read_text()
    parsed = CopyrightFile.parse(text)
    assert not parsed.machine_readable and parsed.statement_for("usr/share/x.jpg") is None
    assert quoted_in("images: All images with unknown license were replaced. Author of new images: "
                     "A Photographer License: Public Domain", text)
    assert not quoted_in("License: CC0", text)


@pytest.mark.parametrize("short,spdx", [
    ("GPL-2+", "GPL-2.0-or-later"), ("LGPL-2.1+", "LGPL-2.1-or-later"), ("Expat", "MIT"), ("CC0", "CC0-1.0"),
    ("CC-BY-SA-3.0", "CC-BY-SA-3.0"), ("public-domain", "public-domain"), ("BSD-3-clause", "BSD-3-Clause"),
    ("CC-BY-NC-4.0", None), ("CC-BY-ND-4.0", None), ("SIL-Open-Font-License", None), ("custom", None),
])
def test_debian_short_names_map_to_accepted_spdx_ids(short, spdx):
    assert spdx_from_debian(short) == spdx


# -- the automatic photo check ------------------------------------------------------------------
def _photo_like(size=(640, 480), seed=0) -> np.ndarray:
    """Smooth structure plus sensor-like noise: what a camera gives, statistically."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((size[1] // 32 + 1, size[0] // 32 + 1, 3))
    base = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize(size, Image.BICUBIC), dtype=np.float32)
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


def _verdict(tmp_path, array, name="x.png", **save):
    path = tmp_path / name
    Image.fromarray(array).save(path, **save)
    return photo_check.rejection(photo_check.measure(path))


def test_photo_like_picture_passes(tmp_path):
    assert _verdict(tmp_path, _photo_like(), "p.jpg", quality=92) is None
    grey = _photo_like()[..., 0]
    assert _verdict(tmp_path, np.dstack([grey] * 3), "g.png") is None  # black and white photographs pass


def test_gradient_and_flat_art_are_rejected(tmp_path):
    gradient = np.tile(np.linspace(0, 255, 800, dtype=np.float32), (600, 1)).astype(np.uint8)
    assert "flat" in _verdict(tmp_path, np.dstack([gradient, gradient // 2, 255 - gradient]), "grad.png")
    logo = np.full((600, 800, 3), 250, np.uint8)
    logo[200:400, 300:500] = (200, 30, 30)
    assert "flat" in _verdict(tmp_path, logo, "logo.png")


def test_few_colours_even_with_noise_are_rejected(tmp_path):
    rng = np.random.default_rng(1)
    poster = rng.integers(0, 4, (600, 800)).astype(np.uint8) * 60  # four grey-ish levels, every pixel differs
    art = np.dstack([poster, poster // 2, poster // 3])
    assert "few colours" in _verdict(tmp_path, art, "poster.png")


def test_cut_outs_and_small_pictures_are_rejected(tmp_path):
    rgba = np.dstack([_photo_like(), np.zeros((480, 640), np.uint8)])
    rgba[100:380, 100:540, 3] = 255
    assert "transparent" in _verdict(tmp_path, rgba, "cut.png")
    assert "too small" in _verdict(tmp_path, _photo_like((300, 200)), "small.png")


# -- manifest roots -----------------------------------------------------------------------------
def test_root_expands_environment_variables_with_default_and_home(tmp_path, monkeypatch):
    monkeypatch.delenv("RESTORE_TEST_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = "${RESTORE_TEST_CACHE:-~/.cache/corpora}/debian"
    assert resolve_root(tmp_path, text) == (tmp_path / "home" / ".cache" / "corpora" / "debian").resolve()
    monkeypatch.setenv("RESTORE_TEST_CACHE", str(tmp_path / "elsewhere"))
    assert resolve_root(tmp_path / "any", text) == (tmp_path / "elsewhere" / "debian").resolve()
    assert resolve_root(tmp_path, "../pictures") == (tmp_path.parent / "pictures").resolve()  # unchanged


def test_manifest_with_a_variable_root_loads_and_checks(tmp_path, monkeypatch):
    pictures = tmp_path / "cache" / "debian"
    pictures.mkdir(parents=True)
    Image.fromarray(_photo_like()).save(pictures / "a.png")
    monkeypatch.setenv("RESTORE_TEST_CACHE", str(tmp_path / "cache"))
    corpus = Corpus.init(tmp_path / "corpus", root="${RESTORE_TEST_CACHE:-~/nowhere}/debian")
    corpus.add([pictures / "a.png"], kind="general", source="test", license="CC0-1.0")
    loaded = Corpus.load(tmp_path / "corpus")
    assert loaded.root == pictures.resolve() and loaded.check() == []
    assert "# root: ${RESTORE_TEST_CACHE:-~/nowhere}/debian" in (tmp_path / "corpus" / "MANIFEST.tsv").read_text()


# -- texture crops ------------------------------------------------------------------------------
def _half_textured(seed=0) -> np.ndarray:
    """Left half flat sky, right half texture: crops must come from the right."""
    image = np.full((700, 1000, 3), 180, np.uint8)
    image[:, 500:] = _photo_like((500, 700), seed) // 2 + np.random.default_rng(seed).integers(0, 120, (700, 500, 3)).astype(np.uint8)
    return image


def test_crops_avoid_flat_areas_and_do_not_overlap():
    crops = choose_crops(_half_textured(), size=200, count=3, seed=0)
    assert len(crops) == 3
    assert all(c.box[0] >= 400 for c in crops)  # from the textured half (a box may straddle a little)
    for i, a in enumerate(crops):
        for b in crops[i + 1:]:
            assert a.box[2] <= b.box[0] or b.box[2] <= a.box[0] or a.box[3] <= b.box[1] or b.box[3] <= a.box[1]
    assert choose_crops(np.full((700, 1000, 3), 128, np.uint8), 200, 3, 0) == []  # nothing worth taking


def _tiny_corpus(folder: Path, pictures: dict[str, np.ndarray], heldout=()) -> Path:
    folder.mkdir(parents=True)
    files = []
    for name, array in pictures.items():
        Image.fromarray(array).save(folder / name)
        files.append(folder / name)
    corpus = Corpus.init(folder)
    for file in files:
        corpus.add([file], kind="general", source="made by the test", license="CC0-1.0", author="Test",
                   split="heldout" if file.name in heldout else "train")
    return folder


def test_export_crops_is_deterministic_and_keeps_provenance(tmp_path):
    first = _tiny_corpus(tmp_path / "one", {"a.png": _half_textured(1), "b.png": _half_textured(2),
                                            "held.png": _half_textured(3)}, heldout=("held.png",))
    # the second corpus repeats a.png downscaled: a near duplicate, cropped only once
    small = np.asarray(Image.fromarray(_half_textured(1)).resize((800, 560), Image.LANCZOS))
    second = _tiny_corpus(tmp_path / "two", {"a-small.png": small, "c.png": _half_textured(4)})
    index = export_crops([first, second], tmp_path / "pack", size=160, per_image=2, seed=0)
    lines = index.read_text().splitlines()
    assert lines[0].split("\t") == INDEX_COLUMNS
    rows = [dict(zip(INDEX_COLUMNS, line.split("\t"))) for line in lines[1:]]
    assert {r["source"] for r in rows} == {"one/a.png", "one/b.png", "two/c.png"}  # no held-out, no duplicate
    assert len(rows) == 6 and all(r["license"] == "CC0-1.0" and len(r["sha256"]) == 64 for r in rows)
    with Image.open(tmp_path / "pack" / rows[0]["crop"]) as img:
        assert img.size == (160, 160) and img.format == "JPEG"
    again = export_crops([first, second], tmp_path / "pack2", size=160, per_image=2, seed=0)
    assert again.read_text() == index.read_text()
    assert all((tmp_path / "pack" / r["crop"]).read_bytes() == (tmp_path / "pack2" / r["crop"]).read_bytes()
               for r in rows)


def test_regions_of_one_picture_are_cropped_at_one_scale(tmp_path):
    """A venue's training and held-out regions of one photograph hold the same detail per pixel."""
    folder = tmp_path / "venue"
    folder.mkdir()
    picture = np.concatenate([_half_textured(5), _half_textured(6)], axis=1)[:, :, :]      # 2000×700
    picture = np.asarray(Image.fromarray(picture).resize((2000, 1400)))
    Image.fromarray(picture).save(folder / "street.png")
    corpus = Corpus.init(folder)
    corpus.add([folder / "street.png"], kind="venue", source="made by the test", license="CC0-1.0",
               region="0,0,1300,1200")                         # its own long side: 1300
    corpus.add([folder / "street.png"], kind="venue", source="made by the test", license="CC0-1.0",
               split="heldout", region="1400,0,2000,1400")     # its own: 1400
    index = export_crops([folder], tmp_path / "pack", size=160, per_image=2, max_side=1000, include_heldout=True)
    rows = [dict(zip(INDEX_COLUMNS, line.split("\t"))) for line in index.read_text().splitlines()[1:]]
    assert {r["split"] for r in rows} == {"train", "heldout"}
    assert {r["scale"] for r in rows} == {"0.500000"}              # the picture's 2000 px to 1000, both regions


# -- the build script's rules and the committed manifest --------------------------------------------
def test_picture_identity_names_a_wallpaper_folder_or_a_file():
    build = _load_build_script()
    assert build._picture_identity("usr/share/wallpapers/Grey/contents/images/2560x1600.jpg") == "Grey"
    assert build._picture_identity("usr/share/wallpapers/Grey/contents/images_dark/5120x2880.png") == "Grey"
    assert build._picture_identity("usr/share/lxqt/wallpapers/beam.png") == "beam"


def test_a_refused_paragraph_leaves_its_files_out_with_the_reason(dep5, tmp_path):
    build = _load_build_script()
    package = build.Package("wallpapers", "1", "trixie", "", ("*",), (("usr/share/backgrounds", "16.04"),))
    refused = [build.PathRule("wallpapers", "16.04/seeding_by_*.jpg", {"reason": "a stock site's terms"})]

    def judge(path):
        candidate = build.Candidate(package, path, tmp_path / "x.jpg")
        return build._licence(candidate, dep5, [], tmp_path, refused), candidate
    why, _ = judge("usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg")
    assert why and "Files: 16.04/seeding_by_*.jpg" in why and "a stock site's terms" in why
    why, taken = judge("usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg")  # another paragraph: unaffected
    assert why is None and taken.licence == "CC-BY-SA-4.0"


def test_committed_inputs_are_consistent():
    build = _load_build_script()
    packages = build.load_packages()
    assert packages and all(len(p.deb_sha256) == 64 and p.include for p in packages)
    names = {p.name for p in packages}
    for rules in ("not_photos.tsv", "licence_statements.tsv", "refused_licences.tsv"):
        assert all(r.package in names for r in build.load_rules(rules)), rules


def test_committed_manifest_has_licence_source_and_held_out_tenth():
    corpus = Corpus.load(DEBIAN)
    assert corpus.root_text.startswith("${RESTORE_CORPORA_CACHE:-~/.cache/restore/corpora}/")
    assert corpus.parse_problems == []
    entries = corpus.entries
    assert len(entries) >= 300
    assert all(e.license and e.source and e.kind == "general" for e in entries)
    assert len({e.sha256 for e in entries}) == len(entries)
    held = len(corpus.select(split="heldout")) / len(entries)
    assert 0.07 < held < 0.16
    # corpora/general's held-out pictures stay held out here
    general = Corpus.load(REPO / "corpora" / "general")
    held_paths = {e.source.rsplit(" ", 1)[-1] for e in general.select(split="heldout")}
    for entry in entries:
        if entry.source.rsplit(" ", 1)[-1] in held_paths:
            assert entry.split == "heldout", entry.rel


@pytest.mark.slow
def test_built_corpus_passes_check():
    corpus = Corpus.load(DEBIAN)
    if not all(e.path.is_file() for e in corpus.entries[:5]):
        pytest.skip(f"the debian corpus is not built in {corpus.root} (make corpus)")
    assert corpus.check() == []
