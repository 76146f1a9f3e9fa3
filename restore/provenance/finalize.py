"""The last step of a run: hash, record, embed, sign — in that order, because signing seals the bytes."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from restore.errors import InputError, OutputError
from restore.media import codecs
from restore.provenance import framemd5, matroska, premis
from restore.provenance.record import (
    SCHEMA,
    build_record,
    model_summary,
    plain,
    record_digest,
    sequence_sidecar_paths,
    sha256_file,
    sidecar_paths,
    software_versions,
    write_atomic,
    write_json_atomic,
)

MATROSKA_SUFFIXES = {".mkv", ".mka", ".mk3d"}


def _video_codec(path: Path) -> str | None:
    proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                           "stream=codec_name", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    return proc.stdout.strip() or None


def _format_name(path: Path, codec: str | None) -> str:
    box = codecs.container_for_extension(path.suffix)
    if box is None:
        return f"{path.suffix.lstrip('.').upper() or 'unknown'} ({codec.upper()})" if codec else \
            (path.suffix.lstrip(".").upper() or "unknown")
    return codecs.label(box.name, codec)


def _software_note(software: dict) -> str:
    """The restore agent's note: the libraries that touch pixels, VapourSynth when a stage ran in it."""
    note = f"torch {software.get('torch')}, basicsr {software.get('basicsr')}"
    vs = software.get("vapoursynth")
    if isinstance(vs, dict) and vs.get("core"):
        plugins = ", ".join(f"{name} {(info or {}).get('version')}" for name, info in (vs.get("plugins") or {}).items()
                            if name not in ("std", "resize", "text"))
        note += f", VapourSynth {vs['core']}" + (f" ({plugins})" if plugins else "")
    return note


def _agents(record: dict, software: dict, identity) -> tuple[list[dict], dict]:
    """PREMIS agents (software, each model, the signer) and the ids events link to."""
    restore_id = f"restore-{software.get('restore')}"
    ffmpeg_id = f"ffmpeg-{software.get('ffmpeg')}"
    agents = [premis.agent(restore_id, "restore", "software", software.get("restore"),
                           note=_software_note(software)),
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
                output_fm: dict, codec: str | None, ids: dict, source_kind: str | None = None) -> list[dict]:
    started, finished = record.get("started"), record.get("finished")
    what = ("SHA-256 of the list of its files' SHA-256 (the " + source_kind + ")") if source_kind else \
        "SHA-256 of the source file"
    events = [premis.event(
        "message digest calculation", agents=[ids["restore"], ids["ffmpeg"]], sources=[source.name],
        detail=f"{what}; ffmpeg framemd5 of its decoded video and audio frames",
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
    # the event type and wording come from the codec table (the record names the codec we chose)
    # the codec the run chose, when the file's stream is that codec (ProRes HQ and 4444 share a stream name);
    # otherwise what the stream itself is
    chosen = codecs.CODECS.get((record.get("output_format") or {}).get("codec") or "")
    if chosen is None or chosen.stream_name != (codec or "").lower():
        chosen = next((c for c in codecs.CODECS.values() if c.stream_name == (codec or "").lower()), None)
    spec = chosen
    events.append(premis.event(
        spec.premis_event if spec else "migration", when=finished, agents=[ids["restore"], ids["ffmpeg"]],
        sources=[source.name], outcomes=[output.name],
        detail=(f"encoded to {spec.label} in {_format_name(output, None)} as the {spec.role}" if spec
                else f"encoded to {_format_name(output, codec)}")))
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


def _sign(output: Path, work: Path, source: Path, body: dict, digest: str, identity, paths: dict, written: dict,
          ids: dict, source_title: str | None = None) -> tuple[dict, dict]:
    """Sign with C2PA (the last write to the file); return the facts for 'sealed' and the PREMIS event.
    ``work`` holds the bytes (the output's temporary name), ``output`` is the name it will have."""
    from restore.provenance import c2pa_sign

    manifest = c2pa_sign.manifest_definition(body, digest, output, paths["provenance"].name)
    signed = c2pa_sign.sign(work, source, manifest, identity, written["c2pa"], source_title)
    facts = {"embedded": signed["embedded"],
             "sidecar": paths["c2pa"].name if signed["sidecar"] else None,
             "sidecar_sha256": sha256_file(signed["sidecar"]) if signed["sidecar"] else None,
             "manifest_bytes": signed["manifest_bytes"]}
    signer = identity.describe()
    event = premis.event(
        "digital signature generation", agents=[ids["restore"], ids["signer"]], outcomes=[output.name],
        detail=(f"C2PA manifest signed ({identity.alg.upper()}), "
                + ("embedded in the file" if signed["embedded"] else f"sidecar {paths['c2pa'].name}")),
        outcome_detail=signer.get("statement") or f"signer {signer['subject']}")
    return facts, event


@dataclass
class _Media:
    """A source or output as the record names and hashes it: one file, or an image sequence (its files in order,
    how ffmpeg reads them, and the sha256 manifest of its files)."""

    name: str
    path: Path                              # the file; for a sequence, its folder
    files: list[Path] | None = None         # a sequence's files, each once, in frame order
    input_args: list[str] | None = None     # how ffmpeg reads a sequence
    label: str | None = None                # PREMIS format name

    @property
    def is_sequence(self) -> bool:
        return self.files is not None

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.files) if self.files is not None else self.path.stat().st_size

    def digest(self, manifest: Path | None) -> str:
        """sha256 of the file; of a sequence, sha256 of its manifest (one ``sha256  name`` line per file, in
        frame order), which is written to ``manifest``."""
        if self.files is None:
            return sha256_file(self.path)
        text = "".join(f"{sha256_file(p)}  {p.name}\n" for p in self.files).encode()
        write_atomic(manifest, text)
        return hashlib.sha256(text).hexdigest()


def _source_media(source: Path, sequence) -> _Media:
    if sequence is None:
        return _Media(source.name, source)
    from restore.media.sequence import LABELS

    files = [sequence.files[n] for n in sorted(sequence.files)]
    return _Media(sequence.pattern, sequence.folder, files, sequence.input_args(),
                  f"{LABELS[sequence.codec]} image sequence")


def _output_sequence_media(folder: Path, target, record: dict) -> _Media:
    from restore.media.sequence import frame_files

    files = frame_files(folder, target)
    if not files:
        raise OutputError(f"no frame was written into {folder}")
    first = _number(files[0].name, target)
    fps = (record.get("output_format") or {}).get("fps") or "25/1"
    args = ["-f", "image2", "-pattern_type", "sequence", "-start_number", str(first), "-framerate", str(fps),
            "-i", str(folder / target.pattern)]
    codec = (record.get("output_format") or {}).get("codec_label") or target.suffix.lstrip(".").upper()
    return _Media(target.pattern, folder, files, args, f"{codec} image sequence")


def _number(name: str, target) -> int:
    """The frame number in an output file's name (the digits where the pattern has its field)."""
    prefix = target.pattern[:target.pattern.index("%")]
    digits = name[len(prefix):]
    return int(digits[:len(digits) - len(digits.lstrip("0123456789"))])


def finalize_output(output: Path, source: Path, record: dict, sign: bool = True, embed: bool = True,
                    staged: Path | None = None, source_sequence=None) -> dict:
    """Write OUTPUT's provenance next to it, embed it (Matroska), and sign last (C2PA).

    ``staged``: the output's bytes still sit under this temporary name (a run in progress). Everything is
    then done there and the provenance files are written under temporary names too; nothing is renamed:
    the result's ``pending`` lists (temporary, final) pairs for the caller to publish, output last (see
    ``restore.media.encode.publish_output``). Records and signatures name the final file.

    An output image sequence (``out/frame_%06d.dpx``): ``staged`` is its temporary folder; the provenance
    files go into it under their final names (``frame.provenance.json`` …, ``frame.sha256``), nothing is
    signed, and the caller renames the folder. ``source_sequence``: the source is an image sequence
    (``restore.media.sequence.ImageSequence``); its files' sha256 go into ``OUT.source.sha256``.

    Returns {"provenance", "premis", "framemd5": {"source", "output"}, "c2pa", "signed", "pending"}.
    """
    output, source = Path(output), Path(source)
    work = Path(staged) if staged is not None else output
    record = plain(record)
    src = _source_media(source, source_sequence)
    from restore.media import codecs

    box = codecs.container_for_extension(output.suffix)
    if box is not None and box.sequence:
        return _finalize_sequence_output(output, work, src, record)
    if not work.is_file():
        raise OutputError(f"no output to finalize at {work}")
    if not src.is_sequence and not source.is_file():
        raise InputError(f"source {source} is missing: cannot record its provenance")
    if not src.is_sequence and (output.resolve() == source.resolve() or work.resolve() == source.resolve()):
        raise OutputError("the output is the source file: refusing to record or sign over an input")
    paths = sidecar_paths(output)
    written = {key: (_staging_name(path) if staged is not None and path is not None else path)
               for key, path in paths.items()}
    try:
        _finalize(output, work, src, record, sign, embed, paths, written)
    except BaseException:
        if staged is not None:
            for path in written.values():
                if path is not None:
                    path.unlink(missing_ok=True)
        raise
    pending = [(written[k], paths[k]) for k in paths if paths[k] is not None and written[k] != paths[k]
               and written[k].exists()]
    c2pa_file = paths["c2pa"] if paths["c2pa"] is not None and written["c2pa"].exists() else None
    return {"provenance": paths["provenance"], "premis": paths["premis"],
            "framemd5": {"source": paths["source_framemd5"], "output": paths["framemd5"]},
            # None when unsigned or when the manifest is embedded in the output itself
            "c2pa": c2pa_file, "signed": sign, "pending": pending}


def _staging_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def _hash_and_describe(src: _Media, out: _Media, record: dict, written: dict, identity):
    """Digests and framemd5 of both ends, the PREMIS agents and run events, and the signed record body."""
    source_sha256 = src.digest(written.get("source_sha256"))
    source_messages = framemd5.write_framemd5(src.path, written["source_framemd5"], src.input_args)
    output_messages = framemd5.write_framemd5(out.path, written["framemd5"], out.input_args)
    source_fm, output_fm = framemd5.summarize(written["source_framemd5"]), framemd5.summarize(written["framemd5"])
    # Archival sources are often damaged: what the decoder said about them belongs in the record.
    source_fm["decoder_messages"] = source_messages[:20]
    output_fm["decoder_messages"] = output_messages[:20]
    software = software_versions(record.get("stages"))
    agents, ids = _agents(record, software, identity)
    codec = _video_codec(out.path) if not out.is_sequence else (record.get("output_format") or {}).get("codec")
    events = _run_events(record, Path(src.name), Path(out.name), source_sha256, source_fm, output_fm, codec, ids,
                         source_kind=src.label)
    body = build_record(record, source=Path(src.name) if src.is_sequence else src.path, output=Path(out.name),
                        source_sha256=source_sha256, source_framemd5=source_fm, output_framemd5=output_fm,
                        software=software, events=events, agents=agents, source_size=src.size())
    if src.is_sequence:
        body["source"]["sha256_of"] = "the sha256 manifest of its files (one 'sha256  name' line per file, in " \
                                      "frame order)"
    if identity is not None:
        body["signer"] = identity.describe()
    return body, events, agents, ids, source_sha256, codec


def _finalize(output: Path, work: Path, src: _Media, record: dict, sign: bool, embed: bool, paths: dict,
              written: dict) -> None:
    identity = None
    if sign:
        from restore.provenance.identity import signing_identity

        identity = signing_identity()
    out = _Media(output.name, work)
    body, events, agents, ids, source_sha256, codec = _hash_and_describe(src, out, record, written, identity)
    if src.is_sequence:
        body["source"]["sha256_manifest"] = paths["source_sha256"].name
    digest = record_digest(body)

    embedded = embed and output.suffix.lower() in MATROSKA_SUFFIXES
    if embedded:
        _embed(work, body, digest, record, paths)
    sealed_events: list[dict] = []
    c2pa_facts = None
    if identity is not None:
        # an image sequence's ingredient is the list of its files' sha256 (it binds every frame file)
        c2pa_facts, signature_event = _sign(output, work, written["source_sha256"] if src.is_sequence else src.path,
                                            body, digest, identity, paths, written, ids,
                                            src.name if src.is_sequence else None)
        sealed_events.append(signature_event)
    final_sha256 = sha256_file(work)
    size = work.stat().st_size
    sealed_events.append(premis.event(
        "message digest calculation", agents=[ids["restore"]], sources=[output.name],
        detail="SHA-256 of the final output file", outcome_detail=f"sha256 {final_sha256}"))
    objects = [{"name": src.name, "sha256": source_sha256, "size": src.size(),
                "format": src.label or _format_name(src.path, _video_codec(src.path))},
               {"name": output.name, "sha256": final_sha256, "size": size, "format": _format_name(output, codec)}]
    premis_bytes = premis.premis_xml(objects, events + sealed_events, agents)
    sealed = {"output": {"name": output.name, "sha256": final_sha256, "size": size},
              "embedded_record": embedded, "c2pa": c2pa_facts, "events": sealed_events,
              # the PREMIS file is written after signing, like this part: its digest ties it to this output
              "premis": {"name": paths["premis"].name, "sha256": hashlib.sha256(premis_bytes).hexdigest()}}
    document = {"schema": SCHEMA, "record": body, "record_sha256": digest, "sealed": sealed}
    write_json_atomic(written["provenance"], document)
    write_atomic(written["premis"], premis_bytes)


def _finalize_sequence_output(output: Path, folder: Path, src: _Media, record: dict) -> dict:
    """An output image sequence: framemd5 of its frames, the sha256 of every file (``NAME.sha256``), the record
    and PREMIS, all inside its (temporary) folder. Not signed: C2PA binds single files."""
    from restore.media.sequence import sequence_target

    target = sequence_target(output)
    paths = sequence_sidecar_paths(folder, target.name)
    final_paths = sequence_sidecar_paths(target.folder, target.name)
    out = _output_sequence_media(folder, target, record)
    if not src.is_sequence:
        paths.pop("source_sha256")
        final_paths.pop("source_sha256")
    body, events, agents, ids, source_sha256, codec = _hash_and_describe(src, out, record, paths, None)
    if src.is_sequence:
        body["source"]["sha256_manifest"] = paths["source_sha256"].name
    frames_sha256 = out.digest(paths["frames_sha256"])
    body["output"]["sequence"] = {"pattern": target.pattern, "frames": len(out.files),
                                  "first_file": out.files[0].name, "last_file": out.files[-1].name,
                                  "sha256_manifest": paths["frames_sha256"].name,
                                  "sha256_of": "the sha256 manifest of its files (one 'sha256  name' line per "
                                               "file, in frame order)"}
    digest = record_digest(body)
    size = out.size()
    sealed_events = [premis.event(
        "message digest calculation", agents=[ids["restore"]], sources=[target.pattern],
        detail=f"SHA-256 of every frame file, listed in {paths['frames_sha256'].name}",
        outcome_detail=f"sha256 of that list {frames_sha256}")]
    objects = [{"name": src.name, "sha256": source_sha256, "size": src.size(),
                "format": src.label or _format_name(src.path, _video_codec(src.path))},
               {"name": target.pattern, "sha256": frames_sha256, "size": size, "format": out.label}]
    premis_bytes = premis.premis_xml(objects, events + sealed_events, agents)
    sealed = {"output": {"name": target.pattern, "sha256": frames_sha256, "size": size, "frames": len(out.files),
                         "sha256_manifest": paths["frames_sha256"].name},
              "embedded_record": False, "c2pa": None,
              "unsigned_reason": "C2PA binds single files; each frame's sha256 is in the manifest this record seals",
              "events": sealed_events,
              "premis": {"name": paths["premis"].name, "sha256": hashlib.sha256(premis_bytes).hexdigest()}}
    write_json_atomic(paths["provenance"], {"schema": SCHEMA, "record": body, "record_sha256": digest,
                                            "sealed": sealed})
    write_atomic(paths["premis"], premis_bytes)
    return {"provenance": final_paths["provenance"], "premis": final_paths["premis"],
            "framemd5": {"source": final_paths["source_framemd5"], "output": final_paths["framemd5"]},
            "sha256": final_paths["frames_sha256"], "c2pa": None, "signed": False, "pending": []}
