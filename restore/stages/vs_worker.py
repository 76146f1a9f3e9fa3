"""VapourSynth filter process: raw frames on stdin, filtered raw frames on stdout.

Runs under the separate Python 3.12 environment (``.venv-vs``, see mk/vapoursynth.mk),
never inside the project's interpreter, so it imports only the standard library,
numpy and VapourSynth — not the ``restore`` package. It is started by
``restore.stages._vapoursynth`` with the job as JSON on the command line.

Wire format, both directions: each frame is float32 little-endian planar RGB
(3 planes of height×width), no header; the frame size comes from the command line.
Float planes avoid a quantisation step at each end; the work itself happens in
YUV444P16 (motion search and QTGMC's masks are tuned for integer YUV luma).

VapourSynth clips have a fixed length, but our input is a stream of unknown length:
the source is a ``BlankClip(keep=True)`` of length ``MAX_FRAMES`` whose frames are
filled by ``ModifyFrame`` from a sliding window of what stdin delivered. Requests
past the end of the stream get the last frame (clamping, as the project's
``WindowStage`` does) and the output loop stops at the real end. Frames older than
the window are dropped, so memory stays flat with clip length.

On a failure the process prints ``restore-vs-error: frame N: message`` to stderr and
exits with status 3; the parent turns that into a StageError.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import threading

import numpy as np

MAX_FRAMES = 10_000_000
KEEP_BEHIND = 24         # frames kept behind the newest one read (filters look back ≤ ~8)
MATRIX = "170m"          # BT.601, both ways: the round trip is what matters, not the matrix


class StreamSource:
    """Frames read lazily from a binary stream, kept in a bounded window."""

    def __init__(self, stream, width: int, height: int):
        self.stream = stream
        self.shape = (3, height, width)
        self.frame_bytes = 3 * height * width * 4
        self.frames: dict[int, np.ndarray] = {}
        self.read_count = 0
        self.eof = False
        self.lock = threading.Lock()

    def _read_one(self) -> bool:
        buf = bytearray(self.frame_bytes)
        view = memoryview(buf)
        got = 0
        while got < self.frame_bytes:
            n = self.stream.readinto(view[got:])
            if not n:
                break
            got += n
        if got == 0:
            return False
        if got != self.frame_bytes:
            raise RuntimeError(f"truncated input frame {self.read_count} ({got} of {self.frame_bytes} bytes)")
        self.frames[self.read_count] = np.frombuffer(buf, dtype="<f4").reshape(self.shape)
        self.read_count += 1
        self.frames.pop(self.read_count - 1 - KEEP_BEHIND, None)
        return True

    def ensure(self, n: int) -> None:
        """Read until frame ``n`` is in the window or the stream has ended."""
        with self.lock:
            while not self.eof and self.read_count <= n:
                if not self._read_one():
                    self.eof = True

    def get(self, n: int) -> np.ndarray:
        self.ensure(n)
        with self.lock:
            if self.read_count == 0:
                raise RuntimeError("no input frames")
            n = min(n, self.read_count - 1) if self.eof else n
            try:
                return self.frames[n]
            except KeyError:
                raise RuntimeError(f"frame {n} left the window (newest {self.read_count - 1})") from None


def build_source(core, vs, src: StreamSource, width: int, height: int, fps: tuple[int, int], field_based: int):
    blank = core.std.BlankClip(width=width, height=height, format=vs.RGBS, length=MAX_FRAMES,
                               fpsnum=fps[0], fpsden=fps[1], keep=True)

    def fill(n, f):
        planes = src.get(n)
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), planes[p])
        out.props["_FieldBased"] = field_based
        return out

    clip = core.std.ModifyFrame(blank, blank, fill)
    clip = core.resize.Bicubic(clip, format=vs.YUV444P16, matrix_s=MATRIX)
    return core.std.SetFieldBased(clip, field_based)


# --- deinterlacing ------------------------------------------------------------------

# QTempGaussMC settings per preset (keyword prefixes name the QTGMC stage they configure).
# Chosen on benchmarks/bench_deinterlace.py (PSNR-Y against progressive truth, and
# "shimmer" = frame-to-frame change on a still picture): twice-refined source
# matching ("slow") gains ~1 dB over vsjetpack's defaults ("stable") and stays
# steadier than bwdif; lossless_mode=2 puts the recorded field lines back untouched
# (best PSNR) but brings back some of the bob shimmer QTGMC exists to remove.
QTGMC_PRESETS = {
    "fast": {"bobber": "bwdif", "basic_tr": 1, "prefilter_tr": 1},
    "medium": {"bobber": "bwdif", "source_match_mode": 1, "lossless_mode": 2},
    "slow": {"source_match_mode": 3},                              # NNEDI3 bobber, twice refined
    "lossless": {"source_match_mode": 3, "lossless_mode": 2},
    "stable": {},            # vsjetpack's defaults: steadiest, softest
}


def deinterlace(core, vs, clip, job):
    tff = bool(job["tff"])
    field_rate = job["rate"] == "field"
    method = job["method"]
    if method == "nnedi3":
        field = (3 if tff else 2) if field_rate else (1 if tff else 0)
        return core.znedi3.nnedi3(clip, field=field, nsize=job.get("nsize", 0), nns=job.get("nns", 3),
                                  qual=job.get("qual", 2))
    if method == "qtgmc":
        from vsaa.deinterlacers import BWDIF
        from vsdeinterlace import QTempGaussMC

        kwargs = dict(QTGMC_PRESETS[job.get("preset", "slow")])
        if kwargs.pop("bobber", None) == "bwdif":
            kwargs["basic_bobber"] = BWDIF()
        bobbed = QTempGaussMC(**kwargs).bob(clip, tff=tff)
        return bobbed if field_rate else bobbed[::2]
    if method == "bwdif":
        return core.bwdif.Bwdif(clip, field=(3 if tff else 2) if field_rate else (1 if tff else 0))
    raise ValueError(f"unknown deinterlace method {method!r}")


# --- denoising ------------------------------------------------------------------------

def _vectors(core, clip, radius: int, blksize: int = 16):
    sup = core.mv.Super(clip, pel=2, sharp=2, rfilter=4)
    search = core.mv.Super(clip, pel=2, sharp=2, rfilter=4, levels=0)
    vectors = []
    for delta in range(1, radius + 1):
        for backward in (True, False):
            vectors.append(core.mv.Analyse(search, isb=backward, delta=delta, blksize=blksize,
                                           overlap=blksize // 2, truemotion=True))
    return sup, vectors


def denoise(core, vs, clip, job):
    method = job["method"]
    strength = float(job["strength"])
    if method == "mdegrain":
        radius = int(job["radius"])
        # 8×8 blocks (overlap 4) follow fine texture better than 16×16: on the grain
        # bench they keep ~0.97 of the detail where 16×16 kept ~0.87 at similar PSNR.
        sup, vectors = _vectors(core, clip, radius, blksize=8)
        degrain = getattr(core.mv, f"Degrain{radius}")
        # thsad: block SAD (8×8, 8-bit scale) above which a neighbour is not averaged in;
        # strength 1 → 200, tuned on σ≈6/255 grain for detail kept ≥ 0.97.
        thsad = int(job.get("thsad") or round(200 * strength))
        return degrain(clip, sup, *vectors, thsad=thsad, thsadc=thsad, thscd1=400, thscd2=130)
    if method == "dfttest":
        import dfttest2

        sigma = 8.0 * strength
        return dfttest2.DFTTest(clip, sigma=sigma, sigma2=sigma, tbsize=2 * int(job.get("radius", 1)) + 1,
                                backend=dfttest2.Backend.CPU())
    raise ValueError(f"unknown denoise method {method!r}")


# --- dust and scratches ---------------------------------------------------------------

def dust(core, vs, clip, job):
    """Motion-compensated spot removal.

    A pixel is replaced by the median of itself and its motion-compensated neighbours
    only where (a) it is brighter or darker than *both* compensated neighbours by more
    than ``threshold`` (a speck lives for one frame) and (b) the two compensated
    neighbours agree with each other, pixel by pixel and on average over the 7×7 area
    around it: where motion compensation failed (fast motion, occlusion) they
    disagree, and the picture is left alone; (c) it differs from the uncompensated
    neighbours too. (mvtools' SAD mask cannot serve here:
    the speck itself raises the SAD of the block it sits in.)
    """
    peak = 65535.0
    t = float(job["threshold"]) * peak
    agree = float(job["agree"]) * peak
    sup, (bv, fv) = _vectors(core, clip, 1, blksize=16)
    prev_c = core.mv.Compensate(clip, sup, bv, thscd1=400)
    next_c = core.mv.Compensate(clip, sup, fv, thscd1=400)
    cur, prev_y, next_y = (core.std.ShufflePlanes(c, 0, vs.GRAY) for c in (clip, prev_c, next_c))
    raw_prev, raw_next = (core.std.ShufflePlanes(c, 0, vs.GRAY) for c in (clip[0] + clip, clip[1:]))
    disagreement = core.std.Expr([prev_y, next_y], "x y - abs", format=vs.GRAY16)
    area_disagreement = core.std.BoxBlur(disagreement, hradius=3, vradius=3)
    # x: current, y/z: compensated prev/next, a: local mean |y − z|, b/c: raw prev/next.
    # A speck also differs from the uncompensated neighbours; a block that took a
    # wrong vector next to a fast object does not, so that guard keeps it untouched.
    mask = core.akarin.Expr(
        [cur, prev_y, next_y, area_disagreement, raw_prev, raw_next],
        f"x y - x z - * 0 > x y - abs {t} > x z - abs {t} > and and "
        f"y z - abs {agree} < a {agree / 2} < and and "
        f"x b - abs {t} > x c - abs {t} > and and {peak} 0 ?",
        format=vs.GRAY16,
    )
    mask = core.std.Maximum(mask)       # specks have soft rims: take them too
    median = core.std.Expr([clip, prev_c, next_c], "x y min x y max z min max")
    return core.std.MaskedMerge(clip, median, mask, planes=[0, 1, 2], first_plane=True)


def scratches(core, vs, clip, job):
    """Vertical line scratches with DeScratch on luma (8-bit, as the plugin requires)."""
    yuv8 = core.resize.Point(clip, format=vs.YUV444P8)
    # job["args"]: DeScratch's own arguments (8-bit units), chosen by the stage
    cleaned = core.descratch.DeScratch(yuv8, **{"modey": 3, "modeu": 0, "modev": 0, **job["args"]})
    # only the pixels DeScratch changed take its 8-bit value; the rest keep 16 bits
    changed = core.std.Expr([core.std.ShufflePlanes(cleaned, 0, vs.GRAY),
                             core.std.ShufflePlanes(yuv8, 0, vs.GRAY)], "x y = 0 65535 ?", format=vs.GRAY16)
    cleaned16 = core.resize.Point(cleaned, format=vs.YUV444P16)
    return core.std.MaskedMerge(clip, cleaned16, changed, planes=[0], first_plane=True)


OPERATIONS = {"deinterlace": deinterlace, "denoise": denoise, "dust": dust, "scratches": scratches}


def output_length_ratio(job) -> int:
    return 2 if job["op"] == "deinterlace" and job.get("rate") == "field" else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--fps", default="25/1")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--job", required=True, help="JSON: {op, method, ...}")
    args = parser.parse_args(argv)
    job = json.loads(args.job)

    # stdout carries frames only: move it aside and send anything printed to stderr
    data_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    data_in = os.fdopen(os.dup(0), "rb", buffering=0)

    import vapoursynth as vs

    core = vs.core
    if args.threads:
        core.num_threads = args.threads
    core.max_cache_size = 512      # MB: QTGMC at 576p peaked at 1.6 GB RSS with 1024

    num, _, den = args.fps.partition("/")
    src = StreamSource(data_in, args.width, args.height)
    field_based = {True: 2, False: 1}[bool(job.get("tff", True))] if job["op"] == "deinterlace" else 0
    frame_index = 0
    try:
        clip = build_source(core, vs, src, args.width, args.height, (int(num), int(den or 1)), field_based)
        out = OPERATIONS[job["op"]](core, vs, clip, job)
        out = core.resize.Bicubic(out, format=vs.RGBS, matrix_in_s=MATRIX)
        ratio = output_length_ratio(job)
        # Ask for a few frames ahead so VapourSynth's threads work on several at once;
        # requests past the end of the stream get clamped frames and are dropped.
        ahead = max(2, core.num_threads)
        pending = collections.deque()
        requested = 0
        while True:
            while len(pending) < ahead and not (src.eof and requested // ratio >= src.read_count):
                pending.append(out.get_frame_async(requested))
                requested += 1
            src.ensure(frame_index // ratio)
            if not pending or (src.eof and frame_index // ratio >= src.read_count):
                break
            frame = pending.popleft().result()
            for p in range(3):
                data_out.write(np.ascontiguousarray(np.asarray(frame[p]), dtype="<f4").tobytes())
            frame_index += 1
    except BrokenPipeError:
        return 0
    except Exception as exc:  # one line for the parent: which frame and why
        message = " ".join(str(exc).split())
        print(f"restore-vs-error: frame {frame_index}: {type(exc).__name__}: {message}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
