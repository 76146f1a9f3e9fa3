"""The one sha256 of a file: outputs, segments, weights, corpus images and reference portraits."""

from __future__ import annotations

import hashlib
import os

_CHUNK = 4 * 1024 * 1024     # read in chunks: outputs are whole films


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()
