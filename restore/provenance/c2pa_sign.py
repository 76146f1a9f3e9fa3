"""C2PA manifests: build, sign (embedded in MP4/MOV, sidecar for Matroska), and read back.

c2pa-python 0.38 (c2pa-rs 0.91) binds a manifest to MP4/MOV with a BMFF hash and
embeds it; it cannot embed into Matroska, so for MKV the manifest is written as a
sidecar (``film.c2pa``) bound to the whole file by a data hash. Any remux after
signing breaks the binding, which is why signing is the last step of a run.
"""

from __future__ import annotations

import datetime
import io
import os
from pathlib import Path

import c2pa

from restore import __version__
from restore.provenance.identity import SigningIdentity
from restore.provenance.record import C2PA_EMBEDDING_SUFFIXES, model_summary, write_atomic

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
HUMAN_EDITS = "http://cv.iptc.org/newscodes/digitalsourcetype/humanEdits"
PROVENANCE_ASSERTION = "org.restore.provenance"
EMBEDDING_MIME = {".mp4": "video/mp4", ".m4v": "video/x-m4v", ".mov": "video/quicktime"}
SIDECAR_MIME = {".mkv": "video/x-matroska", ".mka": "audio/x-matroska", ".webm": "video/webm"}
INGREDIENT_MIME = {**EMBEDDING_MIME, **SIDECAR_MIME, ".avi": "video/x-msvideo", ".mxf": "application/mxf",
                   ".ts": "video/mp2t", ".mpg": "video/mpeg", ".dv": "video/dv", ".y4m": "video/x-yuv4mpeg"}
_ALGORITHMS = {
    "es256": c2pa.C2paSigningAlg.ES256, "es384": c2pa.C2paSigningAlg.ES384,
    "es512": c2pa.C2paSigningAlg.ES512, "ps256": c2pa.C2paSigningAlg.PS256,
    "ps384": c2pa.C2paSigningAlg.PS384, "ps512": c2pa.C2paSigningAlg.PS512,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}
# What the restored file may be used for: the archive, not this tool, holds the rights,
# so the conservative answer is the default; a run may set its own in record["training_mining"].
DEFAULT_TRAINING_MINING = "notAllowed"


def embeds_manifest(output: Path) -> bool:
    return output.suffix.lower() in C2PA_EMBEDDING_SUFFIXES


def media_type(path: Path) -> str:
    return INGREDIENT_MIME.get(path.suffix.lower(), "application/octet-stream")


def _iso_time(value) -> str | None:
    """A C2PA 'when' must be a date-time; anything else the runner wrote is left out."""
    try:
        return datetime.datetime.fromisoformat(str(value)).isoformat() if value else None
    except ValueError:
        return None


def _stage_action(stage: dict, started: str | None) -> dict:
    models = []
    for model in stage.get("models") or []:
        summary = model_summary(model)
        models.append({"name": summary["name"], "sha256": summary["sha256"], "card_sha256": summary["card_sha256"],
                       "corpus_manifest_sha256": [c["manifest_sha256"] for c in summary["corpora"]]})
    action = {
        "action": "c2pa.edited" if models else "c2pa.filtered",
        "softwareAgent": {"name": "restore", "version": __version__},
        "description": f"restore stage '{stage.get('stage')}'",
        "parameters": {"stage": stage.get("stage"), "params": stage.get("params") or {}},
    }
    if models:
        # A trained model made these pixels: say so in the IPTC vocabulary C2PA readers show.
        action["digitalSourceType"] = TRAINED_ALGORITHMIC_MEDIA
        action["parameters"]["models"] = models
    if started:
        action["when"] = started
    return action


def _correction_action(correction: dict) -> dict:
    """An operator's correction: a person's edit, with who, when and why."""
    action = {
        "action": "c2pa.edited",
        "softwareAgent": {"name": "restore serve", "version": __version__},
        "description": f"operator correction: {correction.get('description')}",
        "parameters": {"correction": correction.get("id"), "kind": correction.get("kind"),
                       "frames": correction.get("frames"), "operator": correction.get("who"),
                       "reason": correction.get("why") or "", "applied": bool(correction.get("applied")),
                       **{k: correction[k] for k in ("mask_sha256", "track", "stage", "strength") if k in correction}},
        "digitalSourceType": HUMAN_EDITS,
    }
    when = _iso_time(correction.get("when"))
    if when:
        action["when"] = when
    return action


def manifest_definition(record: dict, record_sha256: str, output: Path, provenance_name: str) -> dict:
    """The manifest: opened (source as parent) → one action per stage → transcoded, plus our assertions."""
    started = _iso_time(record.get("started"))
    opened = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["source"]}}
    if started:
        opened["when"] = started
    actions = [opened]
    actions += [_stage_action(stage, started) for stage in record.get("stages") or []]
    actions += [_correction_action(c) for c in record.get("corrections") or []]
    actions.append({
        "action": "c2pa.transcoded",
        "softwareAgent": {"name": "restore", "version": __version__},
        "description": f"encoded to {output.suffix.lstrip('.').upper()}",
        "parameters": {"output_format": (record.get("output") or {}).get("format")},
    })
    use = record.get("training_mining") or DEFAULT_TRAINING_MINING
    training = {name: {"use": use} for name in
                ("c2pa.ai_training", "c2pa.ai_generative_training", "c2pa.ai_inference", "c2pa.data_mining")}
    return {
        "claim_generator_info": [{"name": "restore", "version": __version__}],
        "title": output.name,
        "format": media_type(output),
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": actions}},
            {"label": "c2pa.training-mining", "data": {"entries": training}},
            {"label": PROVENANCE_ASSERTION, "data": {
                "record_sha256": record_sha256,
                "record_file": provenance_name,
                "source_sha256": record["source"]["sha256"],
                "framemd5_content_sha256": record["output"]["framemd5"]["content_sha256"],
                "models": [{"name": m["name"], "sha256": m["sha256"],
                            "corpus_manifest_sha256": [c["manifest_sha256"] for c in m["corpora"]]}
                           for m in record["models"]],
            }},
        ],
    }


def make_signer(identity: SigningIdentity) -> c2pa.Signer:
    alg = _ALGORITHMS.get(identity.alg.lower())
    if alg is None:
        raise ValueError(f"unsupported signing algorithm {identity.alg}")
    if identity.callback is not None:
        return c2pa.Signer.from_callback(identity.callback, alg, identity.chain_pem.decode(), identity.tsa_url)
    info = c2pa.C2paSignerInfo(alg, identity.chain_pem, identity.key_pem, identity.tsa_url)
    return c2pa.Signer.from_info(info)


class _Discard(io.RawIOBase):
    """A seekable sink: for a sidecar, c2pa still streams the asset through; nothing needs keeping."""

    def __init__(self):
        super().__init__()
        self._pos = self._end = 0

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._pos += len(data)
        self._end = max(self._end, self._pos)
        return len(data)

    def readinto(self, buffer) -> int:
        return 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos


def sign(output: Path, source: Path, manifest: dict, identity: SigningIdentity, sidecar: Path | None,
         source_title: str | None = None) -> dict:
    """Sign output in place (MP4/MOV: embedded, via a temp file and rename) or write sidecar (others).

    ``source``: the parent ingredient; for an image sequence, the list of its files' sha256 (``source_title``
    then names the sequence), which binds every frame file."""
    embedded = embeds_manifest(output)
    builder = c2pa.Builder(manifest)
    with open(source, "rb") as src:
        builder.add_ingredient({"title": source_title or source.name, "relationship": "parentOf", "label": "source"},
                               media_type(source) if source_title is None else "application/octet-stream", src)
    signer = make_signer(identity)
    try:
        if embedded:
            tmp = output.with_name(f".{output.name}.{os.getpid()}.signing{output.suffix}")
            try:
                with open(output, "rb") as src, open(tmp, "w+b") as dst:
                    manifest_bytes = builder.sign(signer, EMBEDDING_MIME[output.suffix.lower()], src, dst)
                os.replace(tmp, output)
            finally:
                tmp.unlink(missing_ok=True)
            return {"embedded": True, "sidecar": None, "manifest_bytes": len(manifest_bytes)}
        builder.set_no_embed()
        with open(output, "rb") as src:
            manifest_bytes = builder.sign(signer, media_type(output), src, _Discard())
        write_atomic(sidecar, manifest_bytes)
        return {"embedded": False, "sidecar": sidecar, "manifest_bytes": len(manifest_bytes)}
    finally:
        signer.close()
        builder.close()


def read_manifest(output: Path, sidecar: Path | None, anchors: list[bytes]) -> dict:
    """Validate the manifest of output against the given trust anchors.

    Returns {"state", "failures": [{code, explanation}], "successes": [code], "manifest": active
    manifest | None}. Raises c2pa.C2paError when there is no manifest to read.
    """
    settings = {"verify": {"verify_trust": True}}
    if anchors:
        settings["trust"] = {"user_anchors": b"".join(anchors).decode()}
    context = c2pa.Context.from_dict(settings)
    manifest_data = sidecar.read_bytes() if sidecar is not None else None
    with open(output, "rb") as fh:
        reader = c2pa.Reader(media_type(output), fh, manifest_data, context=context)
        try:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest()
        finally:
            reader.close()
    active = results.get("activeManifest") or {}
    failures = [{"code": f.get("code"), "explanation": f.get("explanation")} for f in active.get("failure") or []]
    return {
        "state": state,
        "failures": failures,
        "successes": [s.get("code") for s in active.get("success") or []],
        "manifest": manifest,
    }
