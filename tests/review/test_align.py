"""Pairing BEFORE and AFTER: sizes, display aspect, field-rate output, and clear refusals."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from restore.errors import InputError
from restore.review.align import aligned_pairs, field_picture, plan_alignment
from restore.review.fidelity import assess, departure_map
from tests.review.conftest import decoded, ffmpeg, write_sidecar


def digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def interlaced_and_bobbed(folder, size: str, frames: int):
    """A moving 25i (top field first) source and its field-rate (50p) bwdif output."""
    before, after = folder / "src.mkv", folder / "bob.mkv"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=50", "-frames:v", str(frames), "-vf",
           "interlace=scan=tff", "-c:v", "ffv1", "-field_order", "tt", str(before))
    ffmpeg("-i", str(before), "-vf", "bwdif=mode=send_field:parity=tff", "-c:v", "ffv1", str(after))
    return before, after


def test_field_rate_output_pairs_each_source_frame_with_two_output_frames(tmp_path):
    before, after = interlaced_and_bobbed(tmp_path, "176x144", 12)
    alignment = plan_alignment(before, after)
    assert alignment.rate_ratio == 2 and alignment.frames_log is None
    source = [digest(img) for img in decoded(before)]
    pairs = list(aligned_pairs(before, after, alignment))
    assert len(pairs) == 2 * len(source) == 24
    assert [p.source_index for p in pairs] == [k // 2 for k in range(24)]
    assert [digest(p.before) for p in pairs] == [source[k // 2] for k in range(24)]


def test_progressive_output_of_an_interlaced_source_is_held_against_the_field_of_its_moment(tmp_path):
    # testsrc2 moves: a woven source frame doubles moving edges, each bobbed frame shows one moment
    before, after = interlaced_and_bobbed(tmp_path, "320x240", 16)
    alignment = plan_alignment(before, after)
    assert alignment.compares_fields
    for pair in aligned_pairs(before, after, alignment):
        right = assess(departure_map(pair.reference, pair.after_aligned))
        woven = assess(departure_map(pair.before, pair.after_aligned))
        wrong = assess(departure_map(field_picture(pair.before, bottom=pair.after_index % 2 == 0),
                                     pair.after_aligned))
        assert right.regions == [], pair.after_index
        assert right.score > woven.score and right.score > wrong.score, pair.after_index


def test_sidecar_source_index_wins_over_the_rate_ratio(tmp_path):
    before, after = tmp_path / "src.mkv", tmp_path / "out.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x72:rate=25", "-frames:v", "4", "-c:v", "ffv1", str(before))
    ffmpeg("-i", str(before), "-vf", "fps=50", "-c:v", "ffv1", str(after))
    log = write_sidecar(after, 8, ratio=2)
    alignment = plan_alignment(before, after, log)
    assert alignment.frames_log == log
    pairs = list(aligned_pairs(before, after, alignment))
    assert [p.source_index for p in pairs] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert pairs[3].log["notes"]["stage_seconds"]["superres"] == 0.2


def test_square_pixel_upscale_is_brought_back_to_the_anamorphic_source_grid(tmp_path):
    before, after = tmp_path / "pal.mkv", tmp_path / "hd.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=720x576:rate=25", "-frames:v", "2", "-vf", "setsar=16/15",
           "-c:v", "ffv1", str(before))
    ffmpeg("-i", str(before), "-vf", "scale=1440:1080:flags=lanczos,setsar=1", "-c:v", "ffv1", str(after))
    alignment = plan_alignment(before, after)
    assert alignment.resized and alignment.display_size == (768, 576)
    pair = next(aligned_pairs(before, after, alignment))
    assert pair.after.shape == (1080, 1440, 3)
    assert pair.after_aligned.shape == pair.before.shape == (576, 720, 3)
    # same picture, same place: no shift of the aligned frame matches the source better
    def error(dx, dy):
        return float(np.abs(np.roll(pair.after_aligned, (dy, dx), axis=(0, 1)) - pair.before).mean())

    aligned_error = error(0, 0)
    assert aligned_error < 0.05
    assert aligned_error < 0.9 * min(error(dx, dy) for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2)))


@pytest.mark.parametrize("case, message", [
    ("rate", "only the same rate or field-rate output"),
    ("crop", "cropped, padded or stretched"),
    ("length", "not the same clip"),
])
def test_incomparable_files_are_refused_with_one_clear_line(tmp_path, case, message):
    before, after = tmp_path / "src.mkv", tmp_path / "out.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-frames:v", "25", "-c:v", "ffv1", str(before))
    vf, frames = {"rate": ("fps=30", "30"), "crop": ("crop=120:120", "25"), "length": ("null", "12")}[case]
    ffmpeg("-i", str(before), "-vf", vf, "-frames:v", frames, "-c:v", "ffv1", str(after))
    with pytest.raises(InputError, match=message) as err:
        plan_alignment(before, after)
    assert "\n" not in str(err.value)


def test_a_truncated_after_is_refused_when_the_pass_ends(tmp_path):
    # raw H.264 streams carry no duration, so only the frame-by-frame pass can tell
    before, after = tmp_path / "src.h264", tmp_path / "out.h264"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x72:rate=25", "-frames:v", "30", "-c:v", "libx264", str(before))
    ffmpeg("-i", str(before), "-frames:v", "20", "-c:v", "libx264", str(after))
    alignment = plan_alignment(before, after)
    assert alignment.after_duration is None
    with pytest.raises(InputError, match="BEFORE has 30 frames but AFTER covers only the first 20"):
        list(aligned_pairs(before, after, alignment))
