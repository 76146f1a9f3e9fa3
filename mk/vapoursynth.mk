# VapourSynth runtime (QTGMC, MDegrain, znedi3, DeScratch) in its own Python 3.12 env.
# VapourSynth's wheels need Python >= 3.12 and the project venv is 3.11 (torch comes
# from this disk only for 3.11), so VapourSynth filters run as a separate worker
# process (restore/stages/vs_worker.py) under .venv-vs. Without Python 3.12 this
# step prints one line and is skipped: the ffmpeg methods keep working.
VS_VENV ?= .venv-vs
VS_STAMP := $(VS_VENV)/.installed
VS_REQUIREMENTS := mk/vapoursynth-requirements.txt

.PHONY: vapoursynth
EXTRA_INSTALL += vapoursynth

vapoursynth: $(VS_STAMP)

$(VS_STAMP): $(VS_REQUIREMENTS)
	@py312=""; \
	for candidate in "$${RESTORE_PY312:-}" "$$HOME/.pyenv/versions/3.12.1/bin/python" python3.12; do \
	  if [ -n "$$candidate" ] && command -v "$$candidate" >/dev/null 2>&1 && \
	     "$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then \
	    py312="$$candidate"; break; fi; \
	done; \
	if [ -z "$$py312" ] && command -v pyenv >/dev/null 2>&1 && PYENV_VERSION=3.12.1 pyenv which python >/dev/null 2>&1; then \
	  py312="$$(PYENV_VERSION=3.12.1 pyenv which python)"; fi; \
	if [ -z "$$py312" ]; then \
	  echo "vapoursynth: no Python 3.12 found (set RESTORE_PY312=/path/to/python3.12); skipping: qtgmc/nnedi3/mdegrain/dfttest/descratch unavailable, ffmpeg methods still work"; \
	  exit 0; fi; \
	set -e; \
	test -x $(VS_VENV)/bin/python || "$$py312" -m venv $(VS_VENV); \
	$(VS_VENV)/bin/python -m pip install -q --disable-pip-version-check --only-binary=:all: -r $(VS_REQUIREMENTS); \
	$(VS_VENV)/bin/python -c "import vapoursynth as vs; [getattr(vs.core, n) for n in ('mv', 'znedi3', 'descratch', 'zsmooth', 'akarin')]; import vsdeinterlace, dfttest2"; \
	touch $(VS_STAMP)
