"""Corpus manifests: add/check round trip, every rejection one line and exit 2, the committed manifests."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from restore.cli import main
from restore.errors import UserError
from restore.training.corpus import Corpus, require_valid_corpus

REPO = Path(__file__).resolve().parents[2]
SHARED_CORPORA = REPO / ".." / "shared" / "corpora"


def _picture(path: Path, seed: int, size=(256, 192), fmt="PNG", quality=95) -> Path:
    """A smooth random picture: distinct per seed, but structured enough to survive re-encoding."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((size[1] // 16 + 1, size[0] // 16 + 1, 3))
    img = Image.fromarray((coarse * 255).astype(np.uint8)).resize(size, Image.BICUBIC)
    img.save(path, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return path


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _corpus_with(tmp_path, *pictures, **add_opts):
    folder = tmp_path / "corpus"
    assert _cli("corpus", "init", folder).exit_code == 0
    opts = {"--kind": "general", "--source": "made by the test", "--license": "CC0-1.0", **add_opts}
    args = [x for kv in opts.items() for x in kv]
    result = _cli("corpus", "add", folder, *pictures, *args)
    assert result.exit_code == 0, result.output
    return folder


def _check(folder):
    result = _cli("corpus", "check", folder)
    problems = [line for line in result.stderr.splitlines() if not line.startswith("restore: error")]
    return result, problems


def _edit_cell(folder: Path, column: str, value: str, row: int = 0):
    manifest = folder / "MANIFEST.tsv"
    lines = manifest.read_text().splitlines()
    header = lines[2].split("\t")
    cells = lines[3 + row].split("\t")
    cells[header.index(column)] = value
    lines[3 + row] = "\t".join(cells)
    manifest.write_text("\n".join(lines) + "\n")


def test_add_check_round_trip(tmp_path):
    a, b = _picture(tmp_path / "a.png", 1), _picture(tmp_path / "b.png", 2)
    folder = _corpus_with(tmp_path, a, b, **{"--date": "1962-05", "--author": "Test"})
    result, problems = _check(folder)
    assert result.exit_code == 0, result.output
    assert problems == []
    assert "2 images" in result.stdout and "CC0-1.0 2" in result.stdout and "general 2" in result.stdout
    corpus = Corpus.load(folder)
    assert [e.path.name for e in corpus.entries] == ["a.png", "b.png"]
    assert all(e.path.is_file() and e.path.parent == folder.resolve() for e in corpus.entries)  # copied in
    assert corpus.entries[0].date == "1962-05" and corpus.licence_counts() == {"CC0-1.0": 2}
    assert len(corpus.manifest_sha256) == 64
    assert require_valid_corpus(folder).entries[1].width == 256


@pytest.mark.parametrize("column,value,expected", [
    ("license", "", "no licence"),
    ("license", "all-rights-reserved-ish", "unknown licence"),
    ("source", "", "no source"),
])
def test_missing_or_unknown_provenance_is_rejected(tmp_path, column, value, expected):
    folder = _corpus_with(tmp_path, _picture(tmp_path / "a.png", 1), _picture(tmp_path / "b.png", 2))
    _edit_cell(folder, column, value, row=1)
    result, problems = _check(folder)
    assert result.exit_code == 2
    assert len(problems) == 1 and expected in problems[0] and "b.png" in problems[0]
    with pytest.raises(UserError, match=expected):
        require_valid_corpus(folder)


def test_add_refuses_unknown_licence(tmp_path):
    folder = tmp_path / "c"
    _cli("corpus", "init", folder)
    result = _cli("corpus", "add", folder, _picture(tmp_path / "a.png", 1), "--kind", "general",
                  "--source", "x", "--license", "free-ish")
    assert result.exit_code == 2 and "unknown" in result.stderr
    assert len(Corpus.load(folder).entries) == 0


def test_spdx_aliases_and_public_domain_are_accepted(tmp_path):
    folder = _corpus_with(tmp_path, _picture(tmp_path / "a.png", 1), **{"--license": "GPL-2.0+"})
    _cli("corpus", "add", folder, _picture(tmp_path / "b.png", 2), "--kind", "general", "--source", "x",
         "--license", "public-domain")
    assert Corpus.load(folder).licence_counts() == {"GPL-2.0-or-later": 1, "public-domain": 1}
    assert _check(folder)[0].exit_code == 0


def test_exact_duplicate_is_rejected(tmp_path):
    a = _picture(tmp_path / "a.png", 1)
    (tmp_path / "a-copy.png").write_bytes(a.read_bytes())
    folder = _corpus_with(tmp_path, a, tmp_path / "a-copy.png")
    result, problems = _check(folder)
    assert result.exit_code == 2
    assert len(problems) == 1 and "exact duplicate" in problems[0] and "a-copy.png" in problems[0]


def test_near_duplicate_resized_and_reencoded_is_rejected(tmp_path):
    a = _picture(tmp_path / "a.png", 1, size=(320, 240))
    Image.open(a).resize((224, 168), Image.LANCZOS).save(tmp_path / "a-small.jpg", "JPEG", quality=60)
    folder = _corpus_with(tmp_path, a, _picture(tmp_path / "b.png", 2), tmp_path / "a-small.jpg")
    result, problems = _check(folder)
    assert result.exit_code == 2
    assert len(problems) == 1 and "near duplicate" in problems[0] and "a-small.jpg" in problems[0]


def test_corrupt_image_is_rejected(tmp_path):
    good = _picture(tmp_path / "a.jpg", 1, fmt="JPEG")
    data = _picture(tmp_path / "full.jpg", 3, fmt="JPEG").read_bytes()
    (tmp_path / "broken.jpg").write_bytes(data[: len(data) // 2])
    folder = _corpus_with(tmp_path, good, tmp_path / "broken.jpg")
    result, problems = _check(folder)
    assert result.exit_code == 2
    assert len(problems) == 1 and "corrupt" in problems[0] and "broken.jpg" in problems[0]


def test_too_small_image_is_rejected(tmp_path):
    folder = _corpus_with(tmp_path, _picture(tmp_path / "a.png", 1),
                          _picture(tmp_path / "tiny.png", 2, size=(96, 64)))
    result, problems = _check(folder)
    assert result.exit_code == 2
    assert len(problems) == 1 and "too small" in problems[0] and "tiny.png" in problems[0]


def test_changed_image_is_detected(tmp_path):
    folder = _corpus_with(tmp_path, _picture(tmp_path / "a.png", 1))
    _picture(folder / "a.png", 7)  # replaced behind the manifest's back
    result, problems = _check(folder)
    assert result.exit_code == 2 and "sha256 differs" in problems[0]


def test_regions_split_one_image_and_must_not_overlap(tmp_path):
    img = _picture(tmp_path / "venue.png", 1, size=(640, 256))
    folder = _corpus_with(tmp_path, img, **{"--kind": "venue", "--region": "0,0,300,256"})
    common = ["--kind", "venue", "--source", "test", "--license", "CC0-1.0", "--split", "heldout"]
    assert _cli("corpus", "add", folder, folder / "venue.png", *common, "--region", "340,0,640,256").exit_code == 0
    assert _check(folder)[0].exit_code == 0
    corpus = Corpus.load(folder)
    assert [e.load_rgb().shape for e in corpus.entries] == [(256, 300, 3), (256, 300, 3)]
    assert len(corpus.select(split="heldout")) == 1
    _cli("corpus", "add", folder, folder / "venue.png", *common, "--region", "100,0,300,256")
    result, problems = _check(folder)
    assert result.exit_code == 2 and len(problems) == 1 and "overlaps" in problems[0]


def test_manifest_is_plain_text_with_root(tmp_path):
    images = tmp_path / "elsewhere"
    images.mkdir()
    _picture(images / "a.png", 1)
    folder = tmp_path / "corpus"
    assert _cli("corpus", "init", folder, "--root", "../elsewhere").exit_code == 0
    assert _cli("corpus", "add", folder, images / "a.png", "--kind", "general", "--source", "s",
                "--license", "CC-BY-4.0").exit_code == 0
    text = (folder / "MANIFEST.tsv").read_text()
    assert "# root: ../elsewhere" in text and "\na.png\t" in text
    assert not (folder / "a.png").exists()  # referenced in place, not copied
    assert _check(folder)[0].exit_code == 0
    outside = _picture(tmp_path / "b.png", 2)
    refused = _cli("corpus", "add", folder, outside, "--kind", "general", "--source", "s", "--license", "CC0-1.0")
    assert refused.exit_code == 2 and "outside" in refused.stderr
    assert not (images / "b.png").exists()  # nothing written into a root the corpus does not own


def _shared_manifest(name):
    if not (SHARED_CORPORA / name / "MANIFEST.tsv").is_file():
        pytest.skip("../shared/corpora is absent")
    return REPO / "corpora" / name


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("name", ["general", "venue"])
def test_committed_manifests_pass_check(name):
    corpus = Corpus.load(_shared_manifest(name))
    assert corpus.check() == []
    assert corpus.select(split="train") and corpus.select(split="heldout")


@pytest.mark.shared
@pytest.mark.slow
def test_committed_faces_manifest_passes_check():
    corpus = Corpus.load(_shared_manifest("faces"))
    assert len(corpus.entries) == 1031 and corpus.check() == []
    train_people = {e.subject for e in corpus.select(split="train")}
    heldout_people = {e.subject for e in corpus.select(split="heldout")}
    assert heldout_people and not train_people & heldout_people
