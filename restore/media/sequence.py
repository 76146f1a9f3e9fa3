"""Image sequences in and out: DPX, TIFF, PNG and EXR frames, one file per frame, as film scanners write them.

**In.** A pattern (``scans/reel1_%06d.dpx``) or a folder holding one sequence. Frame numbers are read
from the file names (the last run of digits before the extension, whatever its padding); the frame rate
is the user's (``--rate``), since a folder of images has none. A number given by two files is an error; a
number missing between the first and the last is a gap, an error unless the user asks for it to be filled
(``--fill-gaps``: copies of the frame before, as for video). ffmpeg reads the sequence through a folder of
symbolic links numbered 0, 1, 2 … (a gap filled by a second link to the frame before it), so its image2
demuxer sees a complete sequence with exact timestamps at the given rate, and stops at no hole.

Every file's header is read (DPX, PNG, TIFF, EXR: a few hundred bytes each) so that a frame of another
size or depth is refused before any work: ffmpeg would otherwise reconfigure mid-stream.

**DPX transfer.** ffmpeg 5.1's DPX decoder turns the header's transfer characteristic into a colour tag
only for video codes (BT.709, BT.601, linear); *printing density* (Cineon log scans) and *logarithmic* come
out "unknown". restore reads the codes itself (image element 1, offsets 801 and 802), keeps them in the
record and, in a Matroska master, as the stream tags ``DPX_TRANSFER``/``DPX_COLORIMETRIC``, and writes
them back into every DPX it writes from such a source (ffmpeg's encoder always writes 2, linear).

**Out.** ``-o out/frame_%06d.dpx`` (``.tif``/``.tiff``, ``.png``, ``.exr``): the frames and the
provenance beside them are written into a hidden temporary folder next to ``out`` and renamed to ``out``
at the end, so nothing partial ever sits under the final name.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from restore.errors import InputError, OutputError, UserError

# extension → ffmpeg codec (image2 picks its decoder by the extension, so the links keep it)
IMAGE_EXTENSIONS = {".dpx": "dpx", ".tif": "tiff", ".tiff": "tiff", ".png": "png", ".exr": "exr"}
LABELS = {"dpx": "DPX", "tiff": "TIFF", "png": "PNG", "exr": "OpenEXR"}
_FIELD = re.compile(r"%(0?)(\d*)d")
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[^.]+)$")

# DPX transfer characteristic / colorimetric codes (SMPTE 268M), and the ffmpeg tag a code means
# keyed by int | None: a header without the field looks its code up as None (and finds nothing)
DPX_CODES: dict[int | None, str] = {
    0: "user-defined", 1: "printing density", 2: "linear", 3: "logarithmic", 4: "unspecified video",
    5: "SMPTE 274M", 6: "ITU-R BT.709-4", 7: "ITU-R BT.601-5 625-line", 8: "ITU-R BT.601-5 525-line",
    9: "composite NTSC", 10: "composite PAL", 11: "Z linear", 12: "Z homogeneous"}
DPX_TRANSFER_OFFSET, DPX_COLORIMETRIC_OFFSET = 801, 802


class SequenceError(InputError):
    """The sequence cannot be read as given (gaps, duplicates, mixed sizes, no rate)."""


def _number_field(name: str) -> re.Match[str]:
    """The ``%0Nd`` field of a name that has one (``has_number_field``)."""
    m = _FIELD.search(name)
    if m is None:
        raise ValueError(f"{name}: no frame number field")
    return m


def has_number_field(text: str) -> bool:
    return _FIELD.search(os.path.basename(str(text))) is not None


def is_sequence_input(path: Path) -> bool:
    """A printf pattern (``%06d``) naming images, or a folder."""
    return has_number_field(str(path)) or Path(path).is_dir()


def is_sequence_output(path: Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def parse_rate(text: str | None) -> Fraction:
    if text is None:
        raise SequenceError("an image sequence has no frame rate of its own: give it with --rate (e.g. --rate 24, "
                            "--rate 25 or --rate 24000/1001)")
    try:
        rate = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        rate = None
    if rate is None or rate <= 0 or rate > 1000 or rate.denominator > 1001:
        raise UserError(f"--rate must be a frame rate such as 24, 25, 23.976 or 24000/1001, got {str(text)[:40]!r}")
    if rate.denominator not in (1, 1001):
        # 23.976 → 24000/1001, 29.97 → 30000/1001: the rates the decimals stand for
        for base in (24, 30, 48, 60, 120):
            if abs(float(rate) - base * 1000 / 1001) < 0.0015:
                return Fraction(base * 1000, 1001)
        return rate.limit_denominator(1001)
    return rate


@dataclass
class Header:
    width: int
    height: int
    depth: int | None = None
    transfer: int | None = None        # DPX only
    colorimetric: int | None = None    # DPX only


def read_header(path: Path, codec: str) -> Header | None:
    """Size (and for DPX depth and transfer) from the file's first bytes; None when the format does not say
    it where we look (then ffmpeg's own reading decides)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise SequenceError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if codec == "dpx":
            return _dpx_header(head, path)
        if codec == "png":
            if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
                raise SequenceError(f"{path} is not a PNG file")
            w, h = struct.unpack(">II", head[16:24])
            return Header(w, h, head[24])
        if codec == "tiff":
            return _tiff_header(path)
        if codec == "exr":
            return _exr_header(head, path)
    except struct.error:
        raise SequenceError(f"{path}: the {LABELS[codec]} header is cut short") from None
    return None


def _dpx_header(head: bytes, path: Path) -> Header:
    magic = head[:4]
    if magic == b"SDPX":
        end = ">"
    elif magic == b"XPDS":
        end = "<"
    else:
        raise SequenceError(f"{path} is not a DPX file (no SDPX magic)")
    width, height = struct.unpack(end + "II", head[772:780])
    return Header(width, height, head[803], head[DPX_TRANSFER_OFFSET], head[DPX_COLORIMETRIC_OFFSET])


def _tiff_header(path: Path) -> Header | None:
    with open(path, "rb") as fh:
        order = fh.read(4)
        end = {b"II*\x00": "<", b"MM\x00*": ">"}.get(order)
        if end is None:
            raise SequenceError(f"{path} is not a TIFF file (or a BigTIFF, which ffmpeg does not read)")
        (offset,) = struct.unpack(end + "I", fh.read(4))
        fh.seek(offset)
        (count,) = struct.unpack(end + "H", fh.read(2))
        found, deferred = {}, None
        for _ in range(min(count, 512)):
            tag, kind, n, value = struct.unpack(end + "HHI4s", fh.read(12))
            if tag in (256, 257, 258) and kind in (3, 4):     # SHORT or LONG
                size = 2 if kind == 3 else 4
                if n * size > 4:        # the values live elsewhere: the first is enough (same for every sample)
                    deferred = (tag, kind, struct.unpack(end + "I", value)[0])
                    continue
                found[tag] = struct.unpack(end + ("H" if kind == 3 else "I"), value[:size])[0]
        if deferred is not None:
            tag, kind, offset = deferred
            fh.seek(offset)
            found[tag] = struct.unpack(end + ("H" if kind == 3 else "I"), fh.read(2 if kind == 3 else 4))[0]
    if 256 not in found or 257 not in found:
        return None
    return Header(found[256], found[257], found.get(258) if found.get(258, 0) > 1 else None)


def _exr_header(head: bytes, path: Path) -> Header | None:
    if head[:4] != b"\x76\x2f\x31\x01":
        raise SequenceError(f"{path} is not an OpenEXR file")
    pos = 8
    while pos < len(head):
        end = head.index(b"\x00", pos)
        name = head[pos:end]
        if not name:
            return None
        kind_end = head.index(b"\x00", end + 1)
        (size,) = struct.unpack("<i", head[kind_end + 1:kind_end + 5])
        value = head[kind_end + 5:kind_end + 5 + size]
        if name == b"dataWindow":
            x0, y0, x1, y1 = struct.unpack("<iiii", value[:16])
            return Header(x1 - x0 + 1, y1 - y0 + 1)
        pos = kind_end + 5 + size
    return None


@dataclass
class ImageSequence:
    """One numbered image sequence on disk, at the rate the user gave it."""

    given: str                       # what the user typed (pattern or folder)
    folder: Path
    prefix: str
    suffix: str
    padding: int                     # digits of the first file's number (for messages and the pattern)
    rate: Fraction | None            # the user's --rate (set after scanning)
    codec: str
    files: dict[int, Path]           # frame number → file
    duplicates: dict[int, list[Path]] = field(default_factory=dict)
    header: Header | None = None     # the first frame's
    _links: str | None = None

    # --- what it holds --------------------------------------------------------------------------
    @property
    def fps(self) -> Fraction:
        """``rate``, which a sequence must have been given before it is read."""
        return self.rate if self.rate is not None else parse_rate(None)   # parse_rate(None) says to give one

    @property
    def first(self) -> int:
        return min(self.files)

    @property
    def last(self) -> int:
        return max(self.files)

    @property
    def count(self) -> int:
        """Frames from the first number to the last (gaps included: filled, or refused)."""
        return self.last - self.first + 1

    @property
    def pattern(self) -> str:
        return f"{self.prefix}%0{self.padding}d{self.suffix}" if self.padding > 1 else f"{self.prefix}%d{self.suffix}"

    @property
    def display(self) -> str:
        return str(self.folder / self.pattern)

    @property
    def name(self) -> str:
        return self.pattern

    def gaps(self) -> list[tuple[int, int]]:
        """Runs of missing numbers, (first, last)."""
        runs, numbers = [], sorted(self.files)
        for a, b in zip(numbers, numbers[1:]):
            if b - a > 1:
                runs.append((a + 1, b - 1))
        return runs

    def file_name(self, number: int) -> str:
        path = self.files.get(number)
        return path.name if path is not None else f"{self.prefix}{number:0{self.padding}d}{self.suffix}"

    def frame_files(self) -> list[tuple[int, Path, bool]]:
        """(number, file, filled) for every frame from the first to the last; a missing number gives the
        file before it (what ``--fill-gaps`` shows there)."""
        out: list[tuple[int, Path, bool]] = []
        previous = self.files[self.first]      # the first number always has a file
        for number in range(self.first, self.last + 1):
            path = self.files.get(number)
            if path is None:
                out.append((number, previous, True))
            else:
                out.append((number, path, False))
                previous = path
        return out

    def total_size(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())

    # --- what ffmpeg reads ------------------------------------------------------------------------
    def link_pattern(self) -> str:
        """``%08d.ext`` in a private folder of links 0, 1, 2 … (made on first use; ``cleanup`` removes it)."""
        if self._links is None:
            folder = tempfile.mkdtemp(prefix="restore-seq-")
            ext = self.suffix.lower()
            try:
                for k, (_number, path, _filled) in enumerate(self.frame_files()):
                    os.symlink(path.resolve(), os.path.join(folder, f"{k:08d}{ext}"))
            except OSError:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            self._links = folder
        return os.path.join(self._links, f"%08d{self.suffix.lower()}")

    def input_args(self) -> list[str]:
        """ffmpeg's input options for the whole sequence (gaps filled), frame k at k / rate."""
        return ["-f", "image2", "-pattern_type", "sequence", "-start_number", "0",
                "-framerate", f"{self.fps.numerator}/{self.fps.denominator}", "-i", self.link_pattern()]

    def cleanup(self) -> None:
        if self._links is not None:
            shutil.rmtree(self._links, ignore_errors=True)
            self._links = None

    def describe(self) -> dict[str, Any]:
        """The sequence as the record keeps it."""
        header = self.header
        facts = {"pattern": self.pattern, "folder": str(self.folder), "format": LABELS[self.codec],
                 "first_frame": self.first, "last_frame": self.last, "frames": self.count,
                 "files": len(self.files), "rate": f"{self.fps.numerator}/{self.fps.denominator}",
                 "missing": [{"first": a, "last": b} for a, b in self.gaps()]}
        if header is not None and header.transfer is not None:
            facts["dpx_transfer"] = {"code": header.transfer, "name": DPX_CODES.get(header.transfer, "reserved")}
            facts["dpx_colorimetric"] = {"code": header.colorimetric,
                                         "name": DPX_CODES.get(header.colorimetric, "reserved")}
        return facts


def _codec_for(suffix: str, where: str) -> str:
    codec = IMAGE_EXTENSIONS.get(suffix.lower())
    if codec is None:
        kinds = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise SequenceError(f"{where}: image sequences of {suffix or 'files without an extension'} are not read "
                            f"(use {kinds})")
    return codec


def scan(given: str | os.PathLike[str], rate: Fraction | None) -> ImageSequence:
    """Find the sequence a pattern or folder names, check every file's header, and refuse duplicates.
    Gaps are left to the caller (refused, or filled with ``--fill-gaps``)."""
    given = str(given)
    path = Path(given)
    if has_number_field(given):
        folder = path.parent if str(path.parent) else Path(".")
        m = _number_field(path.name)
        prefix, suffix = path.name[:m.start()], path.name[m.end():]
        codec = _codec_for(suffix, given)
        if not folder.is_dir():
            raise SequenceError(f"{given}: the folder {folder} does not exist")
        candidates = [(prefix, suffix)]
    else:
        folder = path
        if not folder.is_dir():
            raise SequenceError(f"input not found: {given}")
        groups: dict[tuple[str, str], int] = {}
        for entry in os.scandir(folder):
            if entry.name.startswith("."):
                continue
            nm = _NUMBERED.match(entry.name)
            if nm and nm[3].lower() in IMAGE_EXTENSIONS and entry.is_file():
                key = (nm[1], nm[3])
                groups[key] = groups.get(key, 0) + 1
        if not groups:
            raise SequenceError(f"input is a folder holding no numbered image files: {given} (give a media file, "
                                f"or a folder of {', '.join(sorted(IMAGE_EXTENSIONS))} frames with --rate)")
        if len(groups) > 1:
            named = ", ".join(f"{p}####{s} ({n} files)" for (p, s), n in sorted(groups.items())[:6])
            raise SequenceError(f"{given}: the folder holds {len(groups)} image sequences ({named}): name one with "
                                "a pattern, e.g. FOLDER/reel1_%06d.dpx")
        candidates = list(groups)
        prefix, suffix = candidates[0]
        codec = _codec_for(suffix, given)
    files: dict[int, Path] = {}
    duplicates: dict[int, list[Path]] = {}
    padding, lowest = None, None
    for entry in os.scandir(folder):
        if entry.name.startswith(".") or not entry.name.startswith(prefix) or not entry.name.endswith(suffix):
            continue
        digits = entry.name[len(prefix):len(entry.name) - len(suffix)]
        if not digits.isdigit() or not digits.isascii() or not entry.is_file():
            continue
        number = int(digits)
        file = Path(folder) / entry.name
        if number in files:
            duplicates.setdefault(number, [files[number]]).append(file)
        else:
            files[number] = file
        if lowest is None or number < lowest:
            lowest, padding = number, len(digits)
    if not files:
        raise SequenceError(f"{given}: no file matches the pattern in {folder}")
    field_match = _FIELD.search(path.name) if has_number_field(given) else None
    if field_match is not None and field_match[2]:
        padding = int(field_match[2])
    seq = ImageSequence(given=given, folder=Path(folder), prefix=prefix, suffix=suffix, padding=padding or 1,
                        rate=rate, codec=codec, files=files, duplicates=duplicates)
    if duplicates:
        numbers = sorted(duplicates)
        shown = "; ".join(f"frame {n}: {', '.join(p.name for p in sorted(duplicates[n]))}" for n in numbers[:5])
        more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
        raise SequenceError(f"{seq.display}: {len(numbers)} frame number(s) given by more than one file ({shown}{more}): "
                            "remove or rename the extra files (--fill-gaps cannot choose between them)")
    _check_headers(seq)
    return seq


def _check_headers(seq: ImageSequence) -> None:
    """Every frame the size (and DPX depth) of the first: ffmpeg would reconfigure mid-stream otherwise."""
    first = None
    for number in sorted(seq.files):
        header = read_header(seq.files[number], seq.codec)
        if header is None:
            continue
        if first is None:
            first, seq.header = (number, header), header
            continue
        ref = first[1]
        if (header.width, header.height) != (ref.width, ref.height) or header.depth != ref.depth:
            raise SequenceError(f"{seq.display}: frame {number} ({seq.files[number].name}) is "
                                f"{header.width}x{header.height}{_bits(header)}, frame {first[0]} is "
                                f"{ref.width}x{ref.height}{_bits(ref)}: a sequence must hold one size and depth")
        if seq.codec == "dpx" and (header.transfer, header.colorimetric) != (ref.transfer, ref.colorimetric):
            raise SequenceError(f"{seq.display}: frame {number} has DPX transfer {DPX_CODES.get(header.transfer)}, "
                                f"frame {first[0]} {DPX_CODES.get(ref.transfer)}: one sequence, one transfer")


def _bits(header: Header) -> str:
    return f" {header.depth}-bit" if header.depth else ""


def gaps_message(seq: ImageSequence) -> str | None:
    gaps = seq.gaps()
    if not gaps:
        return None
    missing = sum(b - a + 1 for a, b in gaps)
    shown = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in gaps[:8])
    more = f" and {len(gaps) - 8} more gap(s)" if len(gaps) > 8 else ""
    return (f"{seq.display}: no file for frame number(s) {shown}{more} ({missing} frame(s) missing between "
            f"{seq.file_name(seq.first)} and {seq.file_name(seq.last)})")


# --- output -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SequenceTarget:
    """Where an output sequence goes: ``folder/prefix%0Nd.ext``."""

    folder: Path
    pattern: str                     # file name pattern, e.g. frame_%06d.dpx

    @property
    def name(self) -> str:
        """The base name of the provenance files beside the frames: ``frame`` for ``frame_%06d.dpx``."""
        stem = _FIELD.sub("", self.pattern.rsplit(".", 1)[0]).strip("._- ")
        return stem or "frames"

    @property
    def suffix(self) -> str:
        return Path(self.pattern).suffix

    def file_regex(self) -> re.Pattern[str]:
        m = _number_field(self.pattern)
        return re.compile(re.escape(self.pattern[:m.start()]) + r"\d+" + re.escape(self.pattern[m.end():]) + "$")

    def staging(self) -> Path:
        return self.folder.parent / f".{self.folder.name}.partial-{os.getpid()}"


def sequence_target(output: Path) -> SequenceTarget:
    output = Path(output)
    if not has_number_field(output.name):
        folder = output.parent if str(output.parent) not in ("", ".") else Path("frames")
        raise OutputError(f"an image sequence output needs a frame number field in its name, e.g. "
                          f"{folder / ('frame_%06d' + output.suffix)}")
    if len(_FIELD.findall(output.name)) > 1:
        raise OutputError(f"{output.name}: one frame number field only")
    _codec_for(output.suffix, str(output))
    if str(output.parent) in ("", "."):
        raise OutputError(f"an image sequence is written into a folder of its own: give one, e.g. "
                          f"-o frames/{output.name}")
    return SequenceTarget(output.parent, output.name)


def check_sequence_output(target: SequenceTarget, overwrite: bool) -> None:
    """The output folder must be new or empty; with ``--overwrite`` it may hold an earlier sequence of the
    same name (its frames and provenance files only: a folder holding anything else is never replaced)."""
    parent = target.folder.parent
    if not parent.is_dir():
        raise OutputError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder is not writable: {parent}")
    if target.folder.is_symlink():
        raise OutputError(f"{target.folder} is a symbolic link: refusing to write a sequence through it")
    if target.folder.exists() and not target.folder.is_dir():
        raise OutputError(f"{target.folder} exists and is not a folder")
    if not target.folder.is_dir():
        return
    entries = [e for e in os.listdir(target.folder)]
    if not entries:
        return
    if not overwrite:
        raise OutputError(f"output folder {target.folder} is not empty (use --overwrite to replace an earlier "
                          "sequence written there)")
    foreign = [e for e in entries if not _ours(target, e)]
    if foreign:
        raise OutputError(f"output folder {target.folder} holds files that are not this sequence "
                          f"({', '.join(sorted(foreign)[:3])}…): --overwrite replaces only a folder of its own frames "
                          "and provenance; choose another folder")


def _ours(target: SequenceTarget, entry: str) -> bool:
    return bool(target.file_regex().match(entry)) or entry.startswith(target.name + ".")


def publish_sequence(staged: Path, target: SequenceTarget, overwrite: bool) -> Path:
    """Rename the finished folder into place (an empty or earlier folder under that name is replaced)."""
    final = target.folder
    if final.is_dir() and any(final.iterdir()):
        if not overwrite:
            raise OutputError(f"output folder {final} filled up while we worked (use --overwrite)")
        check_sequence_output(target, overwrite=True)
        old = final.parent / f".{final.name}.replaced-{os.getpid()}"
        os.replace(final, old)
        os.replace(staged, final)
        shutil.rmtree(old, ignore_errors=True)
        return final
    os.replace(staged, final)         # rename(2) replaces an empty folder atomically
    return final


def remove_stale_staging(target: SequenceTarget) -> None:
    """Staging folders of dead runs beside the output folder."""
    rx = re.compile(re.escape(f".{target.folder.name}.") + r"(?:partial|replaced)-(\d+)$")
    parent = target.folder.parent
    if not parent.is_dir():
        return
    for entry in os.scandir(parent):
        m = rx.match(entry.name)
        if m is None or int(m[1]) == os.getpid():
            continue
        try:
            os.kill(int(m[1]), 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)


def set_dpx_transfer(path: Path, transfer: int, colorimetric: int) -> None:
    """Write the transfer characteristic and colorimetric codes into a DPX file's first image element."""
    with open(path, "r+b") as fh:
        fh.seek(DPX_TRANSFER_OFFSET)
        fh.write(bytes([transfer & 0xFF, colorimetric & 0xFF]))


def frame_files(folder: Path, target: SequenceTarget) -> list[Path]:
    rx = target.file_regex()
    return sorted((folder / e for e in os.listdir(folder) if rx.match(e)), key=lambda p: p.name)


def sequence_report(seq: ImageSequence) -> dict[str, Any]:
    """The probe report of the whole sequence, shaped like ``restore.media.probe.probe``'s for one file:
    the first frame's stream facts, the user's rate, every frame counted (gaps included)."""
    from restore.media.probe import probe

    first = probe(seq.files[seq.first], count=False)
    video = dict(next(s for s in first["streams"] if s["type"] == "video"))
    fps = seq.fps
    rate = f"{fps.numerator}/{fps.denominator}"
    duration = float(seq.count / fps)
    header = seq.header
    video.update({"index": 0, "r_frame_rate": rate, "avg_frame_rate": rate, "time_base": f"1/{fps}"
                  if fps.denominator == 1 else f"{fps.denominator}/{fps.numerator}",
                  "frame_count": seq.count, "frame_count_method": "sequence", "duration": duration,
                  "start_time": 0.0, "field_order": "progressive", "timecode": None, "closed_captions": False,
                  "rotation": None})
    if seq.codec == "dpx" and header is not None and header.transfer is not None:
        video["dpx_transfer"] = header.transfer
        video["dpx_colorimetric"] = header.colorimetric
        if header.transfer not in (2, 5, 6, 7, 8, 9, 10):
            # ffmpeg reads printing density / log / user-defined as "unknown": say so, and mean it
            video["color_transfer"] = "unknown"
        if header.colorimetric not in (2, 5, 6, 7, 8, 9, 10):
            video["color_primaries"] = "unknown"
    return {"file": seq.display, "size": seq.total_size(), "container": "image2",
            "container_long": f"{LABELS[seq.codec]} image sequence", "duration": duration, "start_time": 0.0,
            "bit_rate": None, "timecode": None, "tags": {}, "streams": [video], "sequence": seq.describe()}
