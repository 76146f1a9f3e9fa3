"""Is the file complete? Containers declare their own size; a cut-off file falls short of it.

Decoders happily return the frames that survive a truncation, so a short file would
otherwise become a silently shorter restoration.
"""

from __future__ import annotations

from pathlib import Path

_EBML_ID = b"\x1a\x45\xdf\xa3"
_SEGMENT_ID = b"\x18\x53\x80\x67"


def _read_vint(data: bytes, pos: int) -> tuple[int, int, bool]:
    """An EBML variable-length integer: (value, length, is 'unknown size')."""
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8:
        raise ValueError("bad EBML vint")
    value = first & (mask - 1)
    for b in data[pos + 1: pos + length]:
        value = (value << 8) | b
    unknown = value == (1 << (7 * length)) - 1
    return value, length, unknown


def _matroska_shortfall(path: Path, size: int) -> int | None:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.startswith(_EBML_ID):
        return None
    pos = 4
    header_size, n, _ = _read_vint(head, pos)
    pos += n + header_size
    if head[pos:pos + 4] != _SEGMENT_ID:
        return None
    seg_size, n, unknown = _read_vint(head, pos + 4)
    if unknown:  # live-written files may not know their size
        return None
    end = pos + 4 + n + seg_size
    return max(0, end - size)


def _mp4_shortfall(path: Path, size: int) -> int | None:
    pos = 0
    with open(path, "rb") as fh:
        while pos < size:
            fh.seek(pos)
            header = fh.read(16)
            if len(header) < 8:
                return size - pos
            box = int.from_bytes(header[:4], "big")
            kind = header[4:8]
            if pos == 0 and kind not in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
                return None
            if box == 1:
                box = int.from_bytes(header[8:16], "big")
            elif box == 0:
                return 0  # extends to the end of the file
            if box < 8:
                return None
            pos += box
    return max(0, pos - size)


def truncation_shortfall(path: Path) -> int | None:
    """Bytes missing from the end of ``path`` by its container's own count; None when unknown."""
    path = Path(path)
    size = path.stat().st_size
    try:
        for check in (_matroska_shortfall, _mp4_shortfall):
            missing = check(path, size)
            if missing is not None:
                return missing
    except (ValueError, IndexError, OSError):
        return None
    return None
