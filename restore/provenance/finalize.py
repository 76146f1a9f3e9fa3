"""The last step of a run: hash, record, embed, sign — in that order, because signing seals the bytes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from restore.errors import InputError, OutputError
from restore.provenance import framemd5, matroska, premis
from restore.provenance.record import (
    SCHEMA,
    build_record,
    model_summary,
    plain,
    record_digest,
    sha256_file,
    sidecar_paths,
    software_versions,
    write_json_atomic,
)

MATROSKA_SUFFIXES = {".mkv", ".mka", ".mk3d"}


def _video_codec(path: Path) -> str | None:
    proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=codec_name", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    return proc.stdout.strip() or None


def _format_name(path: Path, codec: str | None) -> str:
    container = {"mkv": "Matroska", "mp4": "MPEG-4", "mov": "QuickTime", "m4v": "MPEG-4"}.get(
        path.suffix.lstrip(".").lower(), path.suffix.lstrip(".").upper() or "unknown")
    return f"{container} ({codec.upper()})" if codec else container


def _agents(record: dict, software: dict, identity) -> tuple[list[dict], dict]:
    """PREMIS agents (software, each model, the signer) and the ids events link to."""
    restore_id = f"restore-{software.get('restore')}"
    ffmpeg_id = f"ffmpeg-{software.get('ffmpeg')}"
    agents = [premis.agent(restore_id, "restore", "software", software.get("restore"),
                           note=f"torch {software.get('torch')}, basicsr {software.get('basicsr')}, "
                                f"facexlib {software.get('facexlib')}"),
              premis.agent(ffmpeg_id, "FFmpeg", "software", software.get("ffmpeg"))]
    ids = {"restore": restore_id, "ffmpeg": ffmpeg_id, "models": {}}
    for stage in record.get("stages") or []:
        for model in stage.get("models") or []:
            model_id = f"model:{model.get('name')}@{(model.get('sha256') or '')[:16]}"
            if model_id not in {a["agentIdentifier"] for a in agents}:
                corpora = "; ".join(f"training corpus {c['name']} manifest sha256 {c['manifest_sha256']}"
                                    for c in model_summary(model)["corpora"]) or "no training corpus on its card"
                note = f"weights sha256 {model.get('sha256')}; model card sha256 {model.get('card_sha256')}; {corpora}"
                agents.append(premis.agent(model_id, model.get("name") or "model", "software", note=note))
            ids["models"].setdefault(stage.get("stage"), []).append(model_id)
    for correction in record.get("corrections") or []:   # the people who corrected the restoration
        person_id = operator_id(correction.get("who"))
        if person_id not in {a["agentIdentifier"] for a in agents}:
            agents.append(premis.agent(person_id, str(correction.get("who")), "person",
                                       note="operator who corrected the restoration (restore serve)"))
    if identity is not None:
        facts = identity.describe()
        signer_id = f"signer:{facts['sha256_fingerprint'][:16]}"
        agents.append(premis.agent(signer_id, facts["subject"],
                                   "software" if identity.kind == "local-ca" else "organization",
                                   note=facts.get("statement") or f"certificate issued by {facts['issuer']}"))
        ids["signer"] = signer_id
    return agents, ids


def operator_id(who) -> str:
    return f"person:{who}"


def _run_events(record: dict, source: Path, output: Path, source_sha256: str, source_fm: dict,
                output_fm: dict, codec: str | None, ids: dict) -> list[dict]:
    started, finished = record.get("started"), record.get("finished")
    events = [premis.event(
        "message digest calculation", agents=[ids["restore"], ids["ffmpeg"]], sources=[source.name],
        detail="SHA-256 of the source file; ffmpeg framemd5 of its decoded video and audio frames",
        outcome_detail=f"sha256 {source_sha256}; framemd5 content sha256 {source_fm['content_sha256']}")]
    for stage in record.get("stages") or []:
        models = ids["models"].get(stage.get("stage"), [])
        kind = "AI restoration (trained model)" if models else "restoration filter"
        events.append(premis.event(
            "modification", when=started, agents=[ids["restore"], *models], sources=[source.name],
            outcomes=[output.name], detail=f"{kind}: stage '{stage.get('stage')}'",
            parameters={"params": stage.get("params") or {},
                        "models": [{"name": m.get("name"), "sha256": m.get("sha256")}
                                   for m in stage.get("models") or []]}))
    for correction in record.get("corrections") or []:
        why = correction.get("why") or "no reason given"
        events.append(premis.event(
            "modification", when=correction.get("when"), agents=[operator_id(correction.get("who")), ids["restore"]],
            sources=[source.name], outcomes=[output.name],
            outcome="success" if correction.get("applied") else "not applied",
            detail=f"operator correction {correction.get('id')}: {correction.get('description')}, "
                   f"by {correction.get('who')}: {why}",
            parameters={k: v for k, v in correction.items() if k not in ("description",)}))
    preservation = (codec or "").lower() == "ffv1"
    events.append(premis.event(
        "normalization" if preservation else "migration", when=finished, agents=[ids["restore"], ids["ffmpeg"]],
        sources=[source.name], outcomes=[output.name],
        detail=("encoded to FFV1 in Matroska as the preservation master" if preservation
                else f"encoded to {_format_name(output, codec)} as an access copy")))
    events.append(premis.event(
        "message digest calculation", agents=[ids["restore"], ids["ffmpeg"]], sources=[output.name],
        detail="ffmpeg framemd5 of the output's decoded video and audio frames",
        outcome_detail=f"framemd5 content sha256 {output_fm['content_sha256']}"))
    return events


def _embed(output: Path, body: dict, digest: str, record: dict, paths: dict) -> None:
    """Attach the record to a Matroska output and summarise it in global tags."""
    tags = {"RESTORE_PROVENANCE_SHA256": digest, "RESTORE_VERSION": str(body["software"].get("restore")),
            "RESTORE_SOURCE_SHA256": body["source"]["sha256"],
            "RESTORE_PIPELINE": str((record.get("pipeline") or {}).get("name") or ""),
            "RESTORE_MODELS": ", ".join(f"{m['name']} {str(m['sha256'])[:12]}" for m in body["models"]),
            "RESTORE_PROVENANCE": f"attached as {matroska.ATTACHMENT_NAME}; sidecar {paths['provenance'].name}"}
    matroska.embed_record(output, {"schema": SCHEMA, "record": body, "record_sha256": digest}, tags)


def _sign(output: Path, source: Path, body: dict, digest: str, identity, paths: dict, ids: dict) -> tuple[dict, dict]:
    """Sign with C2PA (the last write to output); return the facts for 'sealed' and the PREMIS event."""
    from restore.provenance import c2pa_sign

    manifest = c2pa_sign.manifest_definition(body, digest, output, paths["provenance"].name)
    signed = c2pa_sign.sign(output, source, manifest, identity, paths["c2pa"])
    facts = {"embedded": signed["embedded"],
             "sidecar": signed["sidecar"].name if signed["sidecar"] else None,
             "sidecar_sha256": sha256_file(signed["sidecar"]) if signed["sidecar"] else None,
             "manifest_bytes": signed["manifest_bytes"]}
    signer = identity.describe()
    event = premis.event(
        "digital signature generation", agents=[ids["restore"], ids["signer"]], outcomes=[output.name],
        detail=(f"C2PA manifest signed ({identity.alg.upper()}), "
                + ("embedded in the file" if signed["embedded"] else f"sidecar {paths['c2pa'].name}")),
        outcome_detail=signer.get("statement") or f"signer {signer['subject']}")
    return facts, event


def finalize_output(output: Path, source: Path, record: dict, sign: bool = True, embed: bool = True) -> dict:
    """Write OUTPUT's provenance next to it, embed it (Matroska), and sign last (C2PA).

    Returns {"provenance", "premis", "framemd5": {"source", "output"}, "c2pa", "signed"}.
    """
    output, source = Path(output), Path(source)
    record = plain(record)
    if not output.is_file():
        raise OutputError(f"no output to finalize at {output}")
    if not source.is_file():
        raise InputError(f"source {source} is missing: cannot record its provenance")
    if output.resolve() == source.resolve():
        raise OutputError("the output is the source file: refusing to record or sign over an input")
    paths = sidecar_paths(output)

    source_sha256 = sha256_file(source)
    source_messages = framemd5.write_framemd5(source, paths["source_framemd5"])
    output_messages = framemd5.write_framemd5(output, paths["framemd5"])
    source_fm, output_fm = framemd5.summarize(paths["source_framemd5"]), framemd5.summarize(paths["framemd5"])
    # Archival sources are often damaged: what the decoder said about them belongs in the record.
    source_fm["decoder_messages"] = source_messages[:20]
    output_fm["decoder_messages"] = output_messages[:20]

    identity = None
    if sign:
        from restore.provenance.identity import signing_identity

        identity = signing_identity()
    software = software_versions()
    agents, ids = _agents(record, software, identity)
    codec = _video_codec(output)
    events = _run_events(record, source, output, source_sha256, source_fm, output_fm, codec, ids)
    body = build_record(record, source=source, output=output, source_sha256=source_sha256,
                        source_framemd5=source_fm, output_framemd5=output_fm, software=software,
                        events=events, agents=agents)
    if identity is not None:
        body["signer"] = identity.describe()
    digest = record_digest(body)

    embedded = embed and output.suffix.lower() in MATROSKA_SUFFIXES
    if embedded:
        _embed(output, body, digest, record, paths)
    sealed_events: list[dict] = []
    c2pa_facts = None
    if identity is not None:
        c2pa_facts, signature_event = _sign(output, source, body, digest, identity, paths, ids)
        sealed_events.append(signature_event)
    final_sha256 = sha256_file(output)
    sealed_events.append(premis.event(
        "message digest calculation", agents=[ids["restore"]], sources=[output.name],
        detail="SHA-256 of the final output file", outcome_detail=f"sha256 {final_sha256}"))
    sealed = {"output": {"name": output.name, "sha256": final_sha256, "size": output.stat().st_size},
              "embedded_record": embedded, "c2pa": c2pa_facts, "events": sealed_events}
    document = {"schema": SCHEMA, "record": body, "record_sha256": digest, "sealed": sealed}
    write_json_atomic(paths["provenance"], document)

    objects = [{"name": source.name, "sha256": source_sha256, "size": source.stat().st_size,
                "format": _format_name(source, _video_codec(source))},
               {"name": output.name, "sha256": final_sha256, "size": output.stat().st_size,
                "format": _format_name(output, codec)}]
    premis.write_premis_xml(paths["premis"], objects, events + sealed_events, agents)
    return {"provenance": paths["provenance"], "premis": paths["premis"],
            "framemd5": {"source": paths["source_framemd5"], "output": paths["framemd5"]},
            # None when unsigned or when the manifest is embedded in the output itself
            "c2pa": paths["c2pa"] if c2pa_facts and not c2pa_facts["embedded"] else None,
            "signed": c2pa_facts is not None}
