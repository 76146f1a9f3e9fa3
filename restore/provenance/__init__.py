"""restore.provenance — the record of a run, PREMIS events, C2PA signing, verification, BagIt packages.

The runner calls ``finalize_output`` as the last step of ``restore run`` and
``build_package`` for ``--package``; ``restore verify`` calls ``verify_output``.
Imported lazily so that ``import restore.provenance.framemd5`` does not load c2pa.
"""

from __future__ import annotations

__all__ = ["finalize_output", "build_package", "verify_output"]


def __getattr__(name: str):
    if name == "finalize_output":
        from restore.provenance.finalize import finalize_output

        return finalize_output
    if name == "build_package":
        from restore.provenance.bagit_package import build_package

        return build_package
    if name == "verify_output":
        from restore.provenance.verify import verify_output

        return verify_output
    raise AttributeError(f"module 'restore.provenance' has no attribute {name!r}")
