"""``restore verify``: is this file what its provenance says, and unchanged since it was signed?

Each check answers ok, failed or missing. Any failure makes the file *invalid*
(exit 1): a flipped byte breaks the C2PA hash binding, the file's sha256 and the
frame checksums; an edited record no longer matches the digest inside the signed
manifest; a replaced sidecar fails its hash binding or its recorded sha256. With no
failure but a missing manifest or record, the result is *missing* (exit 2).
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from restore.provenance import framemd5, matroska
from restore.provenance.record import load_provenance, record_digest, sha256_file, sidecar_paths

VALID, INVALID, MISSING = "valid", "invalid", "missing"
EXIT_CODES = {VALID: 0, INVALID: 1, MISSING: 2}


@dataclass
class Check:
    name: str
    ok: bool | None          # None: could not be checked (something is missing)
    detail: str

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Report:
    path: Path
    checks: list[Check] = field(default_factory=list)
    record: dict | None = None
    sealed: dict | None = None
    manifest: dict | None = None
    required_missing: bool = False

    def add(self, name: str, ok: bool | None, detail: str, *, required: bool = False) -> None:
        self.checks.append(Check(name, ok, detail))
        if ok is None and required:
            self.required_missing = True

    @property
    def status(self) -> str:
        if any(check.ok is False for check in self.checks):
            return INVALID
        if self.required_missing:
            return MISSING
        return VALID

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict:
        return {"file": str(self.path), "status": self.status, "exit_code": self.exit_code,
                "checks": [c.as_dict() for c in self.checks], "summary": summary(self.record, self.sealed)}


def _load_record(report: Report, path: Path, paths: dict) -> None:
    source = paths["provenance"]
    document = None
    if source.is_file():
        try:
            document = load_provenance(source)
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            report.add("provenance record", False, f"{source.name} is unreadable or not a restore record ({exc})")
            return
    elif path.suffix.lower() in {".mkv", ".mka", ".mk3d"}:
        document = matroska.extract_record(path)
        if document is not None:
            report.add("provenance sidecar", None, f"{source.name} missing; using the record embedded in the file")
    if document is None:
        report.add("provenance record", None, f"no {source.name} beside the file and none embedded", required=True)
        return
    if not isinstance(document, dict) or not isinstance(document.get("record"), dict):
        report.add("provenance record", False, "the embedded record is not a restore record")
        return
    report.record, report.sealed = document.get("record"), document.get("sealed")
    computed = record_digest(report.record)
    if computed != document.get("record_sha256"):
        report.add("provenance record", False, "record_sha256 does not match the record: the record was edited")
        return
    report.add("provenance record", True, f"record digest {computed[:16]}…")


def _check_c2pa(report: Report, path: Path, paths: dict, anchors: list[bytes]) -> None:
    import c2pa

    from restore.provenance.c2pa_sign import PROVENANCE_ASSERTION, read_manifest

    sidecar = paths["c2pa"]
    if sidecar is not None and not sidecar.is_file():
        report.add("c2pa manifest", None, f"no C2PA sidecar {sidecar.name}", required=True)
        return
    try:
        result = read_manifest(path, sidecar, anchors)
    except c2pa.C2paError as exc:
        not_found = "ManifestNotFound" in type(exc).__name__ or "not found" in str(exc).lower()
        if not_found and sidecar is None:
            report.add("c2pa manifest", None, "no C2PA manifest in the file", required=True)
        else:  # a manifest exists but cannot be parsed: treat as tampered
            report.add("c2pa manifest", False, f"C2PA manifest unreadable: {exc}")
        return
    report.manifest = result["manifest"]
    where = "embedded" if sidecar is None else f"sidecar {sidecar.name}"
    integrity = [f for f in result["failures"] if f["code"] != "signingCredential.untrusted"]
    if integrity:
        report.add("c2pa signature and hash binding", False,
                   f"{where}: " + "; ".join(f"{f['code']}" for f in integrity[:3]))
    else:
        report.add("c2pa signature and hash binding", True, f"{where}: claim signature and content hash valid")
    if "signingCredential.trusted" in result["successes"]:
        report.add("c2pa trust chain", True, "signer chains to a trusted anchor")
    elif any(f["code"] == "signingCredential.untrusted" for f in result["failures"]):
        report.add("c2pa trust chain", False, "signer does not chain to a trusted anchor "
                                              "(pass the signer's root with --trust-anchor)")
    else:
        report.add("c2pa trust chain", None, f"not established (validation state {result['state']})")
    manifest = result["manifest"] or {}
    assertions = {a.get("label"): a.get("data") for a in manifest.get("assertions") or []}
    actions = (assertions.get("c2pa.actions.v2") or assertions.get("c2pa.actions") or {}).get("actions") or []
    parents = [i for i in manifest.get("ingredients") or [] if i.get("relationship") == "parentOf"]
    if not actions or actions[0].get("action") != "c2pa.opened" or not parents:
        report.add("c2pa actions", False, "the manifest does not open from a parent ingredient")
    else:
        report.add("c2pa actions", True, " → ".join(a.get("action", "?").removeprefix("c2pa.") for a in actions))
    bound = (assertions.get(PROVENANCE_ASSERTION) or {}).get("record_sha256")
    if report.record is None:
        return
    if bound is None:
        report.add("record bound to signature", False, f"the manifest has no {PROVENANCE_ASSERTION} assertion")
    elif bound != record_digest(report.record):
        report.add("record bound to signature", False,
                   "the provenance record differs from the one that was signed")
    else:
        report.add("record bound to signature", True, "signed manifest carries this record's digest")


def _check_sealed(report: Report, path: Path, paths: dict) -> None:
    if not isinstance(report.sealed, dict):
        return
    expected = (report.sealed.get("output") or {}).get("sha256")
    actual = sha256_file(path)
    report.add("file sha256", actual == expected,
               f"sha256 {actual[:16]}… "
               + ("matches the record" if actual == expected else f"≠ recorded {str(expected)[:16]}…"))
    c2pa_facts = report.sealed.get("c2pa") or {}
    if c2pa_facts.get("sidecar"):
        sidecar = paths["c2pa"]
        if sidecar.is_file():
            same = sha256_file(sidecar) == c2pa_facts.get("sidecar_sha256")
            report.add("c2pa sidecar sha256", same, f"{sidecar.name} " + ("is the one written at signing"
                                                                         if same else "was replaced or changed"))


def _check_premis(report: Report, path: Path, paths: dict) -> None:
    """The PREMIS file beside the output must be this output's: its digest as sealed, and its objects
    naming this file's sha256 and the recorded source's (a PREMIS file taken from another output of the
    same source fails both)."""
    premis_path = paths["premis"]
    if report.record is None:
        return
    if not premis_path.is_file():
        report.add("premis file", None, f"no {premis_path.name} beside the file")
        return
    sealed = (report.sealed or {}).get("premis") if isinstance(report.sealed, dict) else None
    if isinstance(sealed, dict) and sealed.get("sha256"):
        same = sha256_file(premis_path) == sealed["sha256"]
        if not same:
            report.add("premis file", False, f"{premis_path.name} is not the one written for this output "
                                             "(its sha256 differs from the sealed record's)")
            return
    try:
        objects = premis_objects(premis_path.read_bytes())
    except (ET.ParseError, ValueError) as exc:
        report.add("premis file", False, f"{premis_path.name} is not PREMIS XML ({str(exc)[:80]})")
        return
    actual = sha256_file(path)
    source_sha = (report.record.get("source") or {}).get("sha256")
    problems = []
    if objects.get(path.name) != actual:
        problems.append(f"it does not give this file's sha256 for {path.name}")
    source_name = (report.record.get("source") or {}).get("name")
    if source_name is not None and objects.get(source_name) != source_sha:
        problems.append(f"it does not give the recorded source's sha256 for {source_name}")
    if problems:
        report.add("premis file", False, f"{premis_path.name}: " + "; ".join(problems))
    else:
        report.add("premis file", True, f"{premis_path.name} describes this file and its source")


def premis_objects(data: bytes) -> dict[str, str]:
    """{object name: SHA-256} from a PREMIS document."""
    ns = {"p": "http://www.loc.gov/premis/v3"}
    root = ET.fromstring(data)
    objects = {}
    for obj in root.findall("p:object", ns):
        name = obj.findtext("p:objectIdentifier/p:objectIdentifierValue", namespaces=ns)
        digest = obj.findtext("p:objectCharacteristics/p:fixity/p:messageDigest", namespaces=ns)
        if name:
            objects[name] = digest
    return objects


def _check_frames(report: Report, path: Path, paths: dict, decode: bool) -> None:
    if report.record is None:
        return
    recorded = ((report.record.get("output") or {}).get("framemd5") or {}).get("content_sha256")
    stored = paths["framemd5"]
    if stored.is_file():
        same = framemd5.content_digest(stored) == recorded
        report.add("framemd5 file", same,
                   f"{stored.name} " + ("matches the record" if same else "differs from the record"))
    source_stored = paths["source_framemd5"]
    source_recorded = (((report.record.get("source") or {}).get("framemd5")) or {}).get("content_sha256")
    if source_stored.is_file():
        same = framemd5.content_digest(source_stored) == source_recorded
        report.add("source framemd5 file", same, f"{source_stored.name} "
                   + ("matches the record" if same else "differs from the record"))
    if not decode:
        return
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / "now.framemd5"
        try:
            decoder_errors = framemd5.write_framemd5(path, fresh)
        except Exception as exc:  # undecodable: the content itself is damaged
            report.add("decoded frames", False, f"cannot decode the file: {exc}")
            return
        if decoder_errors:  # our encoders write clean streams: any decoder error is damage
            report.add("decoded frames", False, f"the decoder reports damage: {decoder_errors[0]}")
            return
        digest = framemd5.content_digest(fresh)
        if digest == recorded:
            count = len(framemd5.frame_lines(framemd5.read(fresh)))
            report.add("decoded frames", True, f"{count} video and audio frame checksums match the record")
            return
        where = (framemd5.first_difference(framemd5.read(stored), framemd5.read(fresh))
                 if stored.is_file() else None)
        report.add("decoded frames", False, "decoded frames differ from the record" + (f": {where}" if where else ""))


def _check_embedded(report: Report, path: Path) -> None:
    if report.record is None or path.suffix.lower() not in {".mkv", ".mka", ".mk3d"}:
        return
    if not isinstance(report.sealed, dict) or not report.sealed.get("embedded_record"):
        return
    embedded = matroska.extract_record(path)
    if embedded is None:
        report.add("embedded record", False, "the record should be attached to the file but is not")
    else:
        same = record_digest(embedded.get("record") or {}) == record_digest(report.record)
        report.add("embedded record", same, "attachment " + ("matches the sidecar record" if same else
                                                              "differs from the sidecar record"))


def verify_output(path: Path, trust_anchors: list[Path] | tuple[Path, ...] = (), *, decode: bool = True) -> Report:
    """Check path against its provenance record, C2PA manifest and frame checksums."""
    from restore.provenance.identity import trust_anchor_pems

    path = Path(path)
    report = Report(path)
    if not path.is_file() or not os.access(path, os.R_OK):
        report.add("file", None, f"{path} does not exist or cannot be read", required=True)
        return report
    paths = sidecar_paths(path)
    _load_record(report, path, paths)
    _check_c2pa(report, path, paths, trust_anchor_pems(trust_anchors))
    _check_sealed(report, path, paths)
    _check_embedded(report, path)
    _check_premis(report, path, paths)
    _check_frames(report, path, paths, decode)
    return report


MEDIA_SUFFIXES = {".mkv", ".mka", ".mk3d", ".mp4", ".m4v", ".mov"}


@dataclass
class PackageReport:
    path: Path
    bag_ok: bool
    bag_detail: str
    files: list[Report]

    @property
    def exit_code(self) -> int:
        codes = [r.exit_code for r in self.files]
        if not self.bag_ok or 1 in codes:
            return 1
        return 2 if (2 in codes or not codes) else 0

    def as_dict(self) -> dict:
        return {"package": str(self.path), "bag_valid": self.bag_ok, "bag_detail": self.bag_detail,
                "exit_code": self.exit_code, "files": [r.as_dict() for r in self.files]}


def verify_package(folder: Path, trust_anchors: list[Path] | tuple[Path, ...] = (), *,
                   decode: bool = True) -> PackageReport:
    """Validate a BagIt package (every payload file against its sha256/sha512) and verify each film in it."""
    import bagit

    folder = Path(folder)
    try:
        bagit.Bag(str(folder)).validate()
        bag_ok, detail = True, "BagIt manifests and payload agree"
    except bagit.BagError as exc:
        bag_ok, detail = False, f"BagIt validation failed: {exc}"
    media = sorted(p for p in (folder / "data").rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
    return PackageReport(folder, bag_ok, detail, [verify_output(p, trust_anchors, decode=decode) for p in media])


def render_package_text(report: PackageReport) -> str:
    lines = [f"{report.path.name}/: BagIt {'valid' if report.bag_ok else 'INVALID'} ({report.bag_detail})"]
    for file_report in report.files:
        lines += ["", render_text(file_report)]
    if not report.files:
        lines.append("no master or access copy found under data/")
    return "\n".join(lines)


def summary(record: dict | None, sealed: dict | None) -> dict | None:
    """What was done, by which models, trained on what, when, at what energy cost."""
    if record is None:
        return None
    source = record.get("source") or {}
    return {
        "source": {"name": source.get("name"), "sha256": source.get("sha256")},
        "pipeline": (record.get("pipeline") or {}).get("name"),
        "stages": [{"stage": s.get("stage"), "params": s.get("params"),
                    "models": [m.get("name") for m in s.get("models") or []]} for s in record.get("stages") or []],
        "models": record.get("models"),
        "started": record.get("started"),
        "finished": record.get("finished"),
        "device": record.get("device"),
        "frames": record.get("frames"),
        "energy": record.get("energy"),
        "metrics": record.get("metrics"),
        "signer": record.get("signer"),
        "software": {k: v for k, v in (record.get("software") or {}).items()
                     if k in ("restore", "torch", "ffmpeg", "basicsr", "facexlib", "vapoursynth", "c2pa-rs")},
        "corrections": record.get("corrections") or [],
        "output_sha256": ((sealed if isinstance(sealed, dict) else {}).get("output") or {}).get("sha256"),
    }


def _short(value, width: int = 16) -> str:
    text = str(value) if value is not None else "—"
    return text if len(text) <= width else text[:width] + "…"


def _params(params: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (params or {}).items()) or "defaults"


def render_text(report: Report) -> str:
    """The human summary printed by ``restore verify``."""
    marks = {True: "ok  ", False: "FAIL", None: "--  "}
    lines = [f"{report.path.name}: {report.status.upper()}"]
    info = summary(report.record, report.sealed)
    if info:
        lines.append(f"  source     {info['source']['name']}  sha256 {_short(info['source']['sha256'])}")
        lines.append(f"  when       {info['started']} → {info['finished']} on {info['device']}"
                     f" (restore {info['software'].get('restore')}, pipeline {info['pipeline']})")
        derived = (report.record or {}).get("derived_from")
        if derived:
            lines.append(f"  made from  {derived.get('name')} (its record {_short(derived.get('record_sha256'))})")
        frames = info.get("frames") or {}
        if frames:
            lines.append(f"  frames     {frames.get('in')} in, {frames.get('out')} out")
        for number, stage in enumerate(record_stages(report.record), start=1):
            lines.append(f"  stage {number:<4} {stage}")
        for model in info["models"] or []:
            lines.append(f"  model      {model['name']}: weights sha256 {_short(model['sha256'])}, "
                         f"card {_short(model.get('card_sha256'))}")
            for corpus in model.get("corpora") or []:
                licences = corpus.get("licences") or {}
                lines.append(f"             trained on {corpus.get('name') or 'corpus'}, manifest sha256 "
                             f"{_short(corpus.get('manifest_sha256'))}"
                             + (f" ({', '.join(f'{k}: {v}' for k, v in licences.items())})" if licences else ""))
            if not model.get("corpora"):
                lines.append(f"             no training corpus on its card (origin: {model.get('origin') or '—'})")
        for c in info.get("corrections") or []:
            lines.append(f"  correction {c.get('id')}: {c.get('description')}, by {c.get('who')} at {c.get('when')}"
                         + (f": {c['why']}" if c.get("why") else ""))
        lines += _energy_lines(info.get("energy"))
        if info.get("metrics"):
            lines.append("  metrics    " + ", ".join(f"{k} {v}" for k, v in info["metrics"].items()))
        signer = info.get("signer")
        if signer:
            lines.append(f"  signer     {signer.get('common_name', signer['subject'])}, issued by "
                         f"{signer.get('issuer_common_name', signer['issuer'])} ({signer['kind']})")
            if signer.get("statement"):
                lines.append(f"             {signer['statement']}")
    lines.append("  checks")
    lines += [f"    {marks[c.ok]} {c.name}: {c.detail}" for c in report.checks]
    return "\n".join(lines)


def _energy_lines(energy: dict | None) -> list[str]:
    if not energy:
        return ["  energy     not measured"]
    estimate = " (estimate)" if energy.get("is_estimate") or energy.get("method") == "estimate" else ""
    def number(value) -> str:
        return f"{value:.3g}" if isinstance(value, (int, float)) else str(value)

    lines = [f"  energy     {number(energy.get('kwh'))} kWh, {number(energy.get('gco2e'))} gCO2e{estimate}"]
    if energy.get("assumptions"):
        lines.append(f"             {energy['assumptions']}")
    return lines


def record_stages(record: dict | None) -> list[str]:
    described = []
    for stage in (record or {}).get("stages") or []:
        models = stage.get("models") or []
        text = f"{stage.get('stage')} ({_params(stage.get('params'))})"
        if models:
            text += " — AI: " + ", ".join(str(m.get("name")) for m in models)
        described.append(text)
    return described
