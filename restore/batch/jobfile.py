"""The batch job file: which inputs, where the outputs go, which pipeline, which options.

```yaml
version: 1
roots:                        # optional; both default to the job file's folder
  input: /archive/reels       # every input must resolve (symlinks followed) inside this folder
  output: /archive/restored   # every output, the work folders and the status file inside this one
inputs:                       # files or globs (** allowed), relative to the job file's folder
  - reels/*.mkv
output:
  folder: restored            # relative to the job file's folder
  name: "{stem}.restored.mkv" # {stem} {name} {ext} {index}; .mkv master or .mp4/.mov access copy
pipeline: default             # a name from pipelines/ or a path (relative to the job file)
options: {device: auto, batch_size: 4, seed: 0, segment_frames: 250, codec: null, scale: null,
          size: null, overwrite: false, provenance: true, sign: true}
status: restore-status.json   # optional, inside the output folder by default
```

Everything is checked on load, before any work starts: unknown keys, types and ranges,
globs that match nothing, paths escaping their root (``../`` or a symlink pointing out),
outputs that would write over an input, and two inputs mapped to the same output.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from restore import safeyaml
from restore.batch.segments import DEFAULT_SEGMENT_FRAMES
from restore.errors import PipelineError, UserError
from restore.job import JobOptions
from restore.media import codecs
from restore.pipeline.spec import PipelineSpec, load_pipeline

TOP_KEYS = {"version", "roots", "inputs", "output", "pipeline", "options", "status"}
OUTPUT_SUFFIXES = set(codecs.EXTENSIONS)      # one codec table for run, pipelines and job files
NAME_FIELDS = {"stem", "name", "ext", "index"}
CODECS = set(codecs.NAMES)


class JobFileError(UserError):
    """The job file is invalid: the message names the file and the key."""


@dataclass(frozen=True)
class BatchJob:
    index: int
    source: Path
    output: Path

    @property
    def job_id(self) -> str:
        return f"{self.index:03d}-{self.source.name}"


@dataclass
class JobFile:
    path: Path
    jobs: list[BatchJob]
    spec: PipelineSpec
    options: JobOptions
    segment_frames: int
    output_dir: Path
    status_path: Path
    input_root: Path
    output_root: Path
    data: dict = field(default_factory=dict)

    @property
    def lock_path(self) -> Path:
        return self.status_path.with_name(f".{self.status_path.name}.lock")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def load_jobfile(path: Path) -> JobFile:
    path = Path(path)
    if not path.is_file():
        raise JobFileError(f"job file not found: {path}")
    base = path.resolve().parent

    def fail(key: str, message: str) -> JobFileError:
        return JobFileError(f"{path}: {key}: {message}")

    try:
        data = safeyaml.load(path.read_text(encoding="utf-8"))
    except safeyaml.YamlLimitError as exc:
        raise fail("YAML", str(exc)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise fail(f"line {mark.line + 1}" if mark else "YAML", "not valid YAML") from None
    if not isinstance(data, dict):
        raise fail("top level", "expected a mapping with inputs, output and pipeline")
    unknown = sorted((k for k in data if k not in TOP_KEYS), key=str)
    if unknown:
        raise fail(_key(unknown[0]), f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})")
    version = data.get("version", 1)
    if isinstance(version, bool) or version != 1:
        raise fail("version", f"unsupported version {safeyaml.brief(version)} (this restore reads version 1)")

    roots = data.get("roots") or {}
    if not isinstance(roots, dict) or set(roots) - {"input", "output"}:
        raise fail("roots", "expected a mapping with 'input' and/or 'output'")
    input_root = _folder(base, roots.get("input", "."), "roots.input", fail)
    output_root = _folder(base, roots.get("output", "."), "roots.output", fail)

    sources = _inputs(base, data.get("inputs"), input_root, fail)
    out = data.get("output")
    if not isinstance(out, dict) or set(out) - {"folder", "name"} or "folder" not in out:
        raise fail("output", "expected a mapping with 'folder' and optionally 'name'")
    for key in ("folder", "name"):
        if key in out and not isinstance(out[key], str):
            raise fail(f"output.{key}", f"expected a string, got {safeyaml.brief(out[key])}")
    output_dir = (base / out["folder"]).resolve()
    if not _inside(output_dir, output_root):
        raise fail("output.folder", f"{output_dir} is outside the output root {output_root}")
    if not output_dir.is_dir():
        raise fail("output.folder", f"folder does not exist: {output_dir}")
    pattern = str(out.get("name", "{stem}.restored.mkv"))

    jobs = []
    seen: dict[Path, Path] = {}
    source_set = set(sources)
    for index, source in enumerate(sources):
        name = _render_name(pattern, source, index, fail)
        target = output_dir / name
        if target in source_set or (target.exists() and any(target.samefile(s) for s in sources)):
            raise fail("output.name", f"'{name}' would write over the input {target}")
        if target in seen:
            raise fail("output.name", f"{seen[target].name} and {source.name} would both be written to {name} "
                                      "(add {index} or {ext} to the name)")
        seen[target] = source
        jobs.append(BatchJob(index, source, target))

    spec = _pipeline(base, data.get("pipeline", "default"), fail)
    options, segment_frames = _options(data.get("options") or {}, fail)
    status = data.get("status", "restore-status.json")
    if not isinstance(status, str):
        raise fail("status", f"expected a file name, got {safeyaml.brief(status)}")
    status_path = (output_dir / status).resolve()
    if not _inside(status_path, output_root) or status_path.suffix != ".json":
        raise fail("status", f"{status_path} must be a .json file inside the output root {output_root}")
    if status_path in source_set:
        raise fail("status", "would write over an input")
    return JobFile(path=path.resolve(), jobs=jobs, spec=spec, options=options, segment_frames=segment_frames,
                   output_dir=output_dir, status_path=status_path, input_root=input_root,
                   output_root=output_root, data=data)


def _key(key) -> str:
    return key if isinstance(key, str) and len(key) <= 60 else safeyaml.brief(key)


def _folder(base: Path, value, key: str, fail) -> Path:
    if not isinstance(value, str):
        raise fail(key, f"expected a folder path, got {safeyaml.brief(value)}")
    folder = (base / value).resolve()
    if not folder.is_dir():
        raise fail(key, f"folder does not exist: {folder}")
    return folder


def _inputs(base: Path, value, root: Path, fail) -> list[Path]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise fail("inputs", "expected a list of files or glob patterns")
    found: list[Path] = []
    for pattern in value:
        matches = sorted(glob.glob(pattern, root_dir=base, recursive=True)) if glob.has_magic(pattern) \
            else [pattern]
        files = []
        for match in matches:
            resolved = (base / match).resolve()
            if not _inside(resolved, root):
                raise fail("inputs", f"'{match}' resolves to {resolved}, outside the input root {root}")
            if resolved.is_file():
                files.append(resolved)
            elif not glob.has_magic(pattern):
                raise fail("inputs", f"not a file: {resolved}")
        if not files:
            raise fail("inputs", f"'{pattern}' matches no file")
        found += [f for f in files if f not in found]
    return found


def _render_name(pattern: str, source: Path, index: int, fail) -> str:
    values = {"stem": source.stem, "name": source.name, "ext": source.suffix.lstrip("."), "index": f"{index:03d}"}

    def field_value(match: re.Match) -> str:
        if match[1] not in NAME_FIELDS:
            raise fail("output.name", f"unknown field {{{match[1]}}} (use {', '.join(sorted(NAME_FIELDS))})")
        return values[match[1]]

    name = re.sub(r"\{([^{}]*)\}", field_value, pattern)
    if "{" in name or "}" in name:
        raise fail("output.name", f"unbalanced braces in '{pattern}'")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or "\0" in name:
        raise fail("output.name", f"'{name}' must be a plain file name inside output.folder")
    if Path(name).suffix.lower() not in OUTPUT_SUFFIXES:
        raise fail("output.name", f"'{name}' must end in {', '.join(sorted(OUTPUT_SUFFIXES))}")
    if codecs.container_for_extension(Path(name).suffix).sequence:
        raise fail("output.name", f"'{name}': batch jobs write files, not image sequences (use restore run -o "
                                  "FOLDER/frame_%06d.dpx)")
    return name


def _pipeline(base: Path, value, fail) -> PipelineSpec:
    if not isinstance(value, str) or not value:
        raise fail("pipeline", "expected a pipeline name or a path to a pipeline YAML file")
    candidate = base / value
    try:
        return load_pipeline(str(candidate) if candidate.suffix in (".yaml", ".yml") else value)
    except PipelineError as exc:
        raise fail("pipeline", str(exc)) from None


_OPTION_TYPES = {"device": str, "batch_size": int, "seed": int, "segment_frames": int, "codec": str, "scale": int,
                 "size": str, "bit_depth": int, "chroma": str, "fill_gaps": bool, "overwrite": bool, "provenance": bool,
                 "sign": bool}
_RANGES = {"bit_depth": (8, 16), "batch_size": (1, 256), "segment_frames": (1, 10**7), "scale": (1, 8), "seed": (0, 2**63 - 1)}


def _options(value, fail) -> tuple[JobOptions, int]:
    if not isinstance(value, dict):
        raise fail("options", "expected a mapping")
    clean = {}
    for key, item in value.items():
        if key not in _OPTION_TYPES:
            raise fail(f"options.{_key(key)}", f"unknown option (allowed: {', '.join(sorted(_OPTION_TYPES))})")
        if item is None:
            continue
        kind = _OPTION_TYPES[key]
        if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
            raise fail(f"options.{key}", f"expected {kind.__name__}, got {safeyaml.brief(item)}")
        if key in _RANGES and not _RANGES[key][0] <= item <= _RANGES[key][1]:
            raise fail(f"options.{key}", f"{item} is outside {_RANGES[key][0]}..{_RANGES[key][1]}")
        clean[key] = item
    if clean.get("codec") not in (None, *CODECS):
        raise fail("options.codec", f"expected one of {', '.join(sorted(CODECS))}")
    if clean.get("chroma") not in (None, "4:2:0", "4:2:2", "4:4:4"):
        raise fail("options.chroma", "expected one of 4:2:0, 4:2:2, 4:4:4")
    size = None
    if "size" in clean:
        m = re.fullmatch(r"(\d+)[xX](\d+)", clean["size"])
        if not m or int(m[1]) < 2 or int(m[2]) < 2:
            raise fail("options.size", f"expected WIDTHxHEIGHT, got {safeyaml.brief(clean['size'])}")
        size = (int(m[1]), int(m[2]))
    segment_frames = clean.pop("segment_frames", DEFAULT_SEGMENT_FRAMES)
    clean.pop("size", None)
    return JobOptions(**clean, size=size), segment_frames
