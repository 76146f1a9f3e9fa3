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

import dataclasses
import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from restore import safeyaml
from restore.batch.segments import DEFAULT_SEGMENT_FRAMES
from restore.config import ConfigError, parse, parse_size
from restore.errors import PipelineError, UserError
from restore.job import JobOptions
from restore.media import codecs
from restore.pipeline.spec import PipelineSpec, load_pipeline

OUTPUT_SUFFIXES = set(codecs.EXTENSIONS)      # one codec table for run, pipelines and job files
NAME_FIELDS = {"stem", "name", "ext", "index"}
CODECS = tuple(codecs.NAMES)


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
        raise fail("top level", f"got {safeyaml.brief(data)} (expected a mapping with inputs, output and pipeline)")
    try:
        doc = parse(JobFileDoc, data)
    except ConfigError as exc:
        raise JobFileError(str(exc.at(path))) from None

    input_root = _folder(base, doc.roots.input, "roots.input", fail)
    output_root = _folder(base, doc.roots.output, "roots.output", fail)

    sources = _inputs(base, doc.inputs, input_root, fail)
    output_dir = (base / doc.output.folder).resolve()
    if not _inside(output_dir, output_root):
        raise fail("output.folder", f"{output_dir} is outside the output root {output_root}")
    if not output_dir.is_dir():
        raise fail("output.folder", f"folder does not exist: {output_dir}")
    pattern = doc.output.name

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

    spec = _pipeline(base, doc.pipeline, fail)
    options, segment_frames = _options(doc.options, fail)
    status_path = (output_dir / doc.status).resolve()
    if not _inside(status_path, output_root) or status_path.suffix != ".json":
        raise fail("status", f"{status_path} must be a .json file inside the output root {output_root}")
    if status_path in source_set:
        raise fail("status", "would write over an input")
    return JobFile(path=path.resolve(), jobs=jobs, spec=spec, options=options, segment_frames=segment_frames,
                   output_dir=output_dir, status_path=status_path, input_root=input_root,
                   output_root=output_root, data=data)


def _folder(base: Path, value: str, key: str, fail) -> Path:
    folder = (base / value).resolve()
    if not folder.is_dir():
        raise fail(key, f"folder does not exist: {folder}")
    return folder


def _inputs(base: Path, value, root: Path, fail) -> list[Path]:
    if isinstance(value, str):
        value = [value]
    if not value or not all(value):
        raise fail("inputs", "empty (expected a list of files or glob patterns)")
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
    if not value:
        raise fail("pipeline", "empty (expected a pipeline name or a path to a pipeline YAML file)")
    candidate = base / value
    try:
        return load_pipeline(str(candidate) if candidate.suffix in (".yaml", ".yml") else value)
    except PipelineError as exc:
        raise fail("pipeline", str(exc)) from None


def _options(options: "JobFileOptions", fail) -> tuple[JobOptions, int]:
    clean = {k: v for k, v in dataclasses.asdict(options).items() if v is not None}
    size = None
    if "size" in clean:
        try:
            size = parse_size(clean.pop("size"))
        except ValueError as exc:
            raise fail("options.size", str(exc)) from None
    segment_frames = clean.pop("segment_frames", DEFAULT_SEGMENT_FRAMES)
    return JobOptions(**clean, size=size), segment_frames


# --- the job file's schema (restore.config: one mechanism and one error format for every file) ---

@dataclass(frozen=True)
class JobRoots:
    """Every input must resolve (symlinks followed) inside roots.input; every output inside roots.output."""

    input: str = field(default=".", metadata={"help": "folder, relative to the job file"})
    output: str = field(default=".", metadata={"help": "folder, relative to the job file"})


@dataclass(frozen=True)
class JobOutput:
    folder: str = field(metadata={"help": "relative to the job file's folder"})
    name: str = field(default="{stem}.restored.mkv",
                      metadata={"help": "{stem} {name} {ext} {index}; .mkv master or .mp4/.mov access copy"})


@dataclass(frozen=True)
class JobFileOptions:
    """What ``restore run`` takes as options, for every job of the file (null: the default)."""

    device: str | None = None
    batch_size: int | None = field(default=None, metadata={"min": 1, "max": 256})
    seed: int | None = field(default=None, metadata={"min": 0, "max": 2**63 - 1})
    segment_frames: int | None = field(default=None, metadata={"min": 1, "max": 10**7})
    codec: Literal[CODECS] | None = None
    scale: int | None = field(default=None, metadata={"min": 1, "max": 8})
    size: str | None = field(default=None, metadata={"help": "WIDTHxHEIGHT, e.g. 1440x1080"})
    bit_depth: int | None = field(default=None, metadata={"min": 8, "max": 16})
    chroma: Literal["4:2:0", "4:2:2", "4:4:4"] | None = None
    fill_gaps: bool | None = None
    overwrite: bool | None = None
    provenance: bool | None = None
    sign: bool | None = None


@dataclass(frozen=True)
class JobFileDoc:
    """A batch job file (restore batch JOBS.yaml)."""

    inputs: str | list[str] = field(metadata={"help": "files or globs (** allowed), relative to the job file"})
    output: JobOutput
    version: Literal[1] = 1
    roots: JobRoots = field(default_factory=JobRoots)
    pipeline: str = field(default="default", metadata={"help": "a name from pipelines/ or a path"})
    options: JobFileOptions = field(default_factory=JobFileOptions)
    status: str = field(default="restore-status.json", metadata={"help": "a .json file inside the output root"})
