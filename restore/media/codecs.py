"""The codec table: every output codec and container restore writes, described once.

Adding a codec is one ``Codec`` entry here: the pipeline spec, ``--codec``, the job file,
the encoder's settings and arguments, the record and the PREMIS event all read this table.

A codec says which containers hold it, whether it is lossless, which pixel format it
writes for a given frame (by the source's chroma and depth, and what the pipeline asks),
its ffmpeg arguments, and how provenance names the file it makes (its *role*, and the
PREMIS event type: *normalization* into a preservation format, *migration* otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from restore.media import pixfmt

MASTER, ACCESS, MEZZANINE = "preservation master", "access copy", "editing master"
SEQUENCE = "image sequence"      # one file per frame, for scanners, grading and VFX (a migration, like editors' formats)


@dataclass(frozen=True)
class Container:
    name: str                       # ffmpeg's muxer
    extensions: tuple[str, ...]
    label: str                      # as PREMIS and messages name it
    default_codec: str
    mime: str
    sequence: bool = False          # one file per frame (ffmpeg's image2 muxer), named by a %0Nd pattern


CONTAINERS: dict[str, Container] = {c.name: c for c in (
    Container("matroska", (".mkv",), "Matroska", "ffv1", "video/x-matroska"),
    Container("mp4", (".mp4", ".m4v"), "MPEG-4", "h264", "video/mp4"),
    Container("mov", (".mov",), "QuickTime", "h264", "video/quicktime"),
    Container("mxf", (".mxf",), "MXF", "dnxhr-hqx", "application/mxf"),
    # image sequences: the codec follows the extension (``default_codec_for``)
    Container("image2", (".dpx", ".tif", ".tiff", ".png", ".exr"), "image sequence", "dpx", "image/x-dpx",
              sequence=True),
)}
EXTENSIONS: dict[str, str] = {ext: c.name for c in CONTAINERS.values() for ext in c.extensions}


def _yuv(chroma: str, depth: int) -> str:
    base = {"4:2:0": "yuv420p", "4:2:2": "yuv422p", "4:4:4": "yuv444p"}[chroma]
    return base if depth <= 8 else f"{base}{10 if depth <= 10 else 12}le"


def _lossless_planes(source_pix: str, source_depth: int, depth: int | None, chroma: str | None) -> str:
    """FFV1: the source's own samples as planes (lossless), deeper when the pipeline asks for more bits."""
    pix = pixfmt.planar_equivalent(source_pix, source_depth)
    if depth and depth > pixfmt.pixel_depth(pix):
        pix = pixfmt.with_depth(pix, depth)
    return pix


def _access(source_pix: str, source_depth: int, depth: int | None, chroma: str | None) -> str:
    """H.264/H.265: 8-bit 4:2:0 (what every player decodes) unless 10-bit or 4:2:2 is asked for."""
    wanted = chroma if chroma is not None and chroma != "auto" else "4:2:0"
    return _yuv(wanted, 10 if (depth or 8) > 8 else 8)


def _fixed(pix: str) -> Callable[..., str]:
    return lambda *_args: pix


def _rgb_depth(source_depth: int, depth: int | None, least: int = 8) -> int:
    return max(source_depth, depth or 0, least)


def _dpx(source_pix: str, source_depth: int, depth: int | None, chroma: str | None) -> str:
    """DPX: 10-bit RGB (the DPX every scanner and grading system exchanges) unless the frames are deeper:
    12-bit kept as 12, deeper as 16."""
    bits = _rgb_depth(source_depth, depth, 10)
    return "gbrp10le" if bits <= 10 else "gbrp12le" if bits <= 12 else "rgb48le"


def _tiff(source_pix: str, source_depth: int, depth: int | None, chroma: str | None) -> str:
    """TIFF: 16-bit RGB for anything deeper than 8 bits (an 8-bit source stays 8-bit unless asked)."""
    return "rgb24" if _rgb_depth(source_depth, depth) <= 8 else "rgb48le"


def _png(source_pix: str, source_depth: int, depth: int | None, chroma: str | None) -> str:
    return "rgb24" if _rgb_depth(source_depth, depth) <= 8 else "rgb48be"


def _prores_4444(source_pix: str, source_depth: int, depth: int | None, chroma: str | None) -> str:
    # 4444 is 4:4:4 10- or 12-bit; prores_ks takes the alpha-less 10-bit layout
    return "yuv444p10le"


@dataclass(frozen=True)
class Codec:
    name: str                               # as --codec, output.codec and job files spell it
    label: str                              # as PREMIS and messages name it
    encoder: str                            # ffmpeg's encoder
    containers: tuple[str, ...]             # where it may go; the first is where it is at home
    lossless: bool
    role: str                               # MASTER | ACCESS | MEZZANINE
    pix_fmt: Callable[[str, int, int | None, str | None], str]   # (source pix, source depth, depth, chroma)
    args: tuple[str, ...] = ()              # fixed encoder arguments (the varying ones: ``encoder_args``)
    crf: int | None = None                  # default quality for rate-controlled codecs
    even_width: bool = False                # subsampled chroma: 4:2:2/4:2:0 need an even width
    even_height: bool = False               # 4:2:0 needs an even height too
    min_size: tuple[int, int] = (1, 1)
    extensions: tuple[str, ...] = ()        # image sequences: the file extensions this codec writes

    @property
    def stream_name(self) -> str:
        """What ffprobe calls a stream of this codec."""
        return {"libx264": "h264", "libx265": "hevc", "prores_ks": "prores", "dnxhd": "dnxhd"}.get(self.encoder,
                                                                                                  self.encoder)

    @property
    def premis_event(self) -> str:
        # LoC vocabulary: into a preservation format is normalization; to anything else, migration
        return "normalization" if self.role == MASTER else "migration"

    def describe(self) -> str:
        return f"{self.label} ({'lossless' if self.lossless else 'lossy'}, {self.role})"


CODECS: dict[str, Codec] = {c.name: c for c in (
    Codec("ffv1", "FFV1 version 3", "ffv1", ("matroska",), True, MASTER, _lossless_planes,
          ("-level", "3", "-g", "1", "-slicecrc", "1", "-coder", "1", "-context", "1")),
    Codec("h264", "H.264", "libx264", ("mp4", "mov", "matroska"), False, ACCESS, _access, ("-preset", "medium"), crf=18,
          even_width=True, even_height=True),
    Codec("h265", "H.265/HEVC", "libx265", ("mp4", "mov", "matroska"), False, ACCESS, _access,
          ("-preset", "medium", "-tag:v:0", "hvc1", "-x265-params", "log-level=error"), crf=20,
          even_width=True, even_height=True),
    Codec("prores-hq", "Apple ProRes 422 HQ", "prores_ks", ("mov",), False, MEZZANINE, _fixed("yuv422p10le"),
          ("-profile:v:0", "3", "-vendor", "apl0"), even_width=True),
    Codec("prores-4444", "Apple ProRes 4444", "prores_ks", ("mov",), False, MEZZANINE, _prores_4444,
          ("-profile:v:0", "4", "-vendor", "apl0")),
    Codec("dnxhr-hqx", "Avid DNxHR HQX", "dnxhd", ("mxf", "mov"), False, MEZZANINE, _fixed("yuv422p10le"),
          ("-profile:v:0", "dnxhr_hqx"), even_width=True, min_size=(256, 120)),
    Codec("v210", "uncompressed 10-bit 4:2:2 (v210)", "v210", ("mov",), True, MEZZANINE, _fixed("yuv422p10le"),
          (), even_width=True),
    Codec("dpx", "DPX", "dpx", ("image2",), True, SEQUENCE, _dpx, (), extensions=(".dpx",)),
    Codec("tiff", "TIFF", "tiff", ("image2",), True, SEQUENCE, _tiff, ("-compression_algo", "deflate"),
          extensions=(".tif", ".tiff")),
    Codec("png", "PNG", "png", ("image2",), True, SEQUENCE, _png, (), extensions=(".png",)),
    # 32-bit float, ZIP (lossless) compression; not lossless as a whole: integer samples become floats
    Codec("exr", "OpenEXR", "exr", ("image2",), False, SEQUENCE, _fixed("gbrpf32le"),
          ("-compression", "zip1", "-format", "float"), extensions=(".exr",)),
)}
# ``lossless``: the codec adds no loss of its own. v210 is exact for 10-bit 4:2:2 samples within the SDI range
# 4-1019 (its encoder clips the codes SDI reserves, 0-3 and 1020-1023); other layouts are converted to 4:2:2.
NAMES = tuple(CODECS)


def codec(name: str) -> Codec:
    return CODECS[name]


def default_codec_for(ext: str) -> str | None:
    """The codec an output of this extension gets when none is asked for."""
    box = container_for_extension(ext)
    if box is None:
        return None
    if box.sequence:
        return next(c.name for c in CODECS.values() if ext.lower() in c.extensions)
    return box.default_codec


def container_for_extension(ext: str) -> Container | None:
    name = EXTENSIONS.get(ext.lower())
    return CONTAINERS[name] if name else None


def label(container: str, codec_name: str | None) -> str:
    """How a file is named in PREMIS: "Matroska (FFV1)"."""
    box = CONTAINERS[container].label if container in CONTAINERS else container
    return f"{box} ({codec_name.upper()})" if codec_name else box


def table() -> list[dict[str, Any]]:
    """The codecs and where they go, for ``restore codecs``-style listings and the README."""
    return [{"codec": c.name, "label": c.label, "containers": [e for k in c.containers
                                                                for e in CONTAINERS[k].extensions],
             "lossless": c.lossless, "role": c.role} for c in CODECS.values()]
