"""The GitHub workflows and the cibuildwheel configuration are valid, safe and complete.

check-jsonschema, zizmor and cibuildwheel come with the ``release`` extra. Without them
these tests skip, except on CI (CI set in the environment), where a missing tool is a
failure. cibuildwheel needs Python >= 3.11 to run, so its test is skipped on older
interpreters. Outside a checkout (an unpacked sdist has no .github/) they all skip.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = [WORKFLOW_DIR / "ci.yml", WORKFLOW_DIR / "wheels.yml"]

if not WORKFLOW_DIR.is_dir():
    pytest.skip("not a checkout: no .github/workflows (e.g. an unpacked sdist)",
                allow_module_level=True)

PYTHONS = ["cp310", "cp311", "cp312", "cp313", "cp314"]
PLATFORM_TAGS = {
    "linux": ["manylinux_x86_64", "manylinux_aarch64"],
    "macos": ["macosx_x86_64", "macosx_arm64"],
    "windows": ["win_amd64"],
}


def tool(name):
    """Path of a command-line tool: the one installed beside this Python, else on PATH."""
    exe = name + (".exe" if sys.platform == "win32" else "")
    beside = Path(sys.executable).parent / exe
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        message = f"{name} is not installed: it is in the release extra, pip install '.[release]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(args, **kwargs):
    # CIBW_* variables from a surrounding cibuildwheel run (e.g. CIBW_ARCHS on a wheel
    # runner) would change what cibuildwheel prints: only pyproject.toml counts here.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    return subprocess.run(
        args, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **kwargs
    )


def test_workflow_files_exist():
    for path in WORKFLOWS:
        assert path.is_file(), f"missing {path.relative_to(ROOT)}"


def test_workflows_match_the_github_schema(tmp_path):
    check = tool("check-jsonschema")
    base = [check, "--builtin-schema", "vendor.github-workflows"]
    result = run(base + [str(p) for p in WORKFLOWS])
    assert result.returncode == 0, result.stdout + result.stderr
    # ...and the check does reject a broken workflow.
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    steps: []\n")
    assert run(base + [str(bad)]).returncode != 0


def zizmor_findings(directory):
    result = run([tool("zizmor"), "--offline", "--format", "json", str(directory)])
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"zizmor failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")


def test_zizmor_finds_nothing_of_medium_or_high_severity(tmp_path):
    serious = [
        f"{f['ident']} ({f['determinations']['severity']}): {f['desc']} at "
        + ", ".join(loc["concrete"]["feature"].strip() for loc in f["locations"])
        for f in zizmor_findings(WORKFLOW_DIR)
        if f["determinations"]["severity"] in ("Medium", "High") and not f.get("ignored")
    ]
    assert not serious, "\n".join(serious)
    # ...and zizmor does report an unsafe workflow.
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "on: pull_request_target\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    assert any(f["determinations"]["severity"] == "High" for f in zizmor_findings(bad))


def test_every_action_is_pinned_to_a_full_commit_sha():
    uses = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+?)(?:\s+#\s*(\S+))?\s*$")
    seen = 0
    for path in WORKFLOWS:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if not re.match(r"^\s*(?:-\s*)?uses:", line):
                continue
            seen += 1
            where = f"{path.name}:{n}: {line.strip()}"
            m = uses.match(line)
            assert m, where
            ref, comment = m.groups()
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"not SHA-pinned: {where}"
            assert comment and re.fullmatch(r"v\d+(\.\d+)*", comment), f"no # vX.Y.Z: {where}"
    assert seen >= 6


def test_publishing_is_trusted_and_tag_only():
    text = (WORKFLOW_DIR / "wheels.yml").read_text()
    assert text.count("id-token: write") == 1
    assert "pypa/gh-action-pypi-publish@" in text and "password:" not in text
    assert "startsWith(github.ref, 'refs/tags/v')" in text
    for path in WORKFLOWS:
        body = path.read_text()
        assert body.count("persist-credentials: false") == body.count("actions/checkout@")
        assert re.search(r"^permissions:", body, re.MULTILINE), path.name
        assert re.search(r"^concurrency:", body, re.MULTILINE), path.name


@pytest.mark.skipif(sys.version_info < (3, 11), reason="cibuildwheel needs Python >= 3.11")
@pytest.mark.parametrize("platform", sorted(PLATFORM_TAGS))
def test_cibuildwheel_build_identifiers(platform):
    result = run([tool("cibuildwheel"), "--print-build-identifiers", "--platform", platform, "."])
    assert result.returncode == 0, result.stdout + result.stderr
    identifiers = set(result.stdout.split())
    expected = {f"{py}-{tag}" for py in PYTHONS for tag in PLATFORM_TAGS[platform]}
    assert identifiers == expected, (sorted(identifiers - expected), sorted(expected - identifiers))
    for ident in identifiers:
        assert "musllinux" not in ident and not ident.startswith("pp"), ident
        assert not re.match(r"cp3\d+t-", ident), f"free-threaded build: {ident}"
