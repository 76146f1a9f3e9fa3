"""Job files are checked completely before any work starts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from restore.batch.jobfile import JobFileError, load_jobfile


@pytest.fixture
def tree(tmp_path) -> Path:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    for name in ("a.mkv", "b.mov", "sub/c.mkv"):
        (tmp_path / "in" / name).write_bytes(b"x")
    return tmp_path


def job(tree: Path, body: str) -> Path:
    path = tree / "jobs.yaml"
    path.write_text(body)
    return path


BASE = "output: {folder: out}\npipeline: passthrough\n"


def test_globs_names_and_options(tree):
    jf = load_jobfile(job(tree, "inputs: ['in/**/*.mkv', in/b.mov]\noutput: {folder: out, name: '{index}-{stem}.{ext}.mkv'}\n"
                                "pipeline: passthrough\noptions: {segment_frames: 50, batch_size: 2, sign: false, size: 320x240}\n"))
    assert [j.source.name for j in jf.jobs] == ["a.mkv", "c.mkv", "b.mov"]
    assert [j.output.name for j in jf.jobs] == ["000-a.mkv.mkv", "001-c.mkv.mkv", "002-b.mov.mkv"]
    assert all(j.output.parent == tree / "out" for j in jf.jobs)
    assert jf.segment_frames == 50 and jf.options.batch_size == 2 and jf.options.size == (320, 240)
    assert jf.options.sign is False
    assert jf.status_path == tree / "out" / "restore-status.json"


@pytest.mark.parametrize("body, message", [
    ("inputs: [in/a.mkv]\noutput: {folder: out}\npipeline: passthrough\ncolour: red\n", "colour: unknown key"),
    ("inputs: [in/a.mkv]\noutput: {folder: ../elsewhere}\npipeline: passthrough\n", "outside the output root"),
    ("inputs: ['in/*.avi']\n" + BASE, "matches no file"),
    ("inputs: [in/missing.mkv]\n" + BASE, "not a file"),
    ("inputs: [in/a.mkv]\noutput: {folder: in, name: '{name}'}\npipeline: passthrough\n", "write over the input"),
    ("inputs: [in/a.mkv, in/sub/c.mkv]\noutput: {folder: out, name: 'same.mkv'}\npipeline: passthrough\n",
     "would both be written"),
    ("inputs: [in/a.mkv]\noutput: {folder: out, name: '{stem.__class__}.mkv'}\npipeline: passthrough\n",
     "unknown field"),
    ("inputs: [in/a.mkv]\noutput: {folder: out, name: '../{stem}.mkv'}\npipeline: passthrough\n", "plain file name"),
    ("inputs: [in/a.mkv]\noutput: {folder: out, name: '{stem}.avi'}\npipeline: passthrough\n", "must end in"),
    ("inputs: [in/a.mkv]\n" + BASE + "options: {batch_size: many}\n", "options.batch_size: got 'many' (expected an integer)"),
    ("inputs: [in/a.mkv]\n" + BASE + "options: {segment_frames: 0}\n", "options.segment_frames: 0 is out of range (expected 1..10000000)"),
    ("inputs: [in/a.mkv]\n" + BASE + "options: {turbo: true}\n", "options.turbo: unknown key (expected one of: device"),
    ("inputs: [in/a.mkv]\noutput: {folder: out}\npipeline: no-such-pipeline\n", "pipeline"),
    ("inputs: [in/a.mkv]\n" + BASE + "status: ../../status.json\n", "inside the output root"),
    ("inputs: [in/a.mkv\n", "not valid YAML"),
])
def test_invalid_job_files_name_the_problem(tree, body, message):
    with pytest.raises(JobFileError, match=re.escape(message)):
        load_jobfile(job(tree, body))


def test_dotdot_out_of_the_root_is_refused(tree):
    sibling = tree.parent / f"{tree.name}-sibling.mkv"
    sibling.write_bytes(b"x")
    for pattern in (f"../{sibling.name}", f"in/../../{tree.name}-sib*.mkv", str(sibling)):
        with pytest.raises(JobFileError, match="outside the input root"):
            load_jobfile(job(tree, f"inputs: ['{pattern}']\n" + BASE))


def test_symlink_out_of_the_root_is_refused(tree, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "secret.mkv"
    outside.write_bytes(b"x")
    os.symlink(outside, tree / "in" / "link.mkv")
    with pytest.raises(JobFileError, match="outside the input root"):
        load_jobfile(job(tree, "inputs: ['in/*.mkv']\n" + BASE))


def test_declared_roots_bound_inputs_and_outputs(tree):
    body = "roots: {input: in/sub, output: out}\ninputs: [in/a.mkv]\n" + BASE
    with pytest.raises(JobFileError, match="outside the input root"):
        load_jobfile(job(tree, body))
    jf = load_jobfile(job(tree, body.replace("in/a.mkv", "in/sub/c.mkv")))
    assert jf.input_root == tree / "in" / "sub" and jf.output_root == tree / "out"
