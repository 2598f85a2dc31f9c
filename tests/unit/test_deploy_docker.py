"""Dockerfile and .dockerignore: slim base, non-root, pinned and complete dependencies."""

from __future__ import annotations

import fnmatch
import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.unit.test_deploy_promql import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
IGNORE = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
CONSTRAINTS = ROOT / "deploy" / "constraints.txt"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def pins() -> dict[str, str]:
    out = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not pinned with ==: {line}"
            out[canonicalize_name(name)] = version
    return out


def ignored(path: str) -> bool:
    """Docker's rule: the last pattern that matches decides; ``!`` keeps a path."""
    out = False
    for pat in IGNORE:
        keep = pat.startswith("!")
        pat = pat.lstrip("!")
        if fnmatch.fnmatch(path, pat) or path.startswith(pat.rstrip("/") + "/"):
            out = not keep
    return out


def test_base_image_is_python_311_slim() -> None:
    args = dict(a.split("=", 1) for w, a in instructions() if w == "ARG" and "=" in a)
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", args["PYTHON_IMAGE"])
    assert all(a.startswith("${PYTHON_IMAGE}") for w, a in instructions() if w == "FROM")


def test_runs_as_non_root() -> None:
    users = [a for w, a in instructions() if w == "USER"]
    assert users, "no USER instruction"
    uid = users[-1].split(":")[0]
    assert uid not in {"0", "root"}
    assert re.search(rf"useradd .*--uid {uid}\b", DOCKERFILE)


def test_entrypoint_and_metrics_port() -> None:
    steps = dict(instructions())
    assert steps["ENTRYPOINT"] == '["abuse-detector"]'
    assert steps["CMD"] == '["worker"]'
    assert steps["EXPOSE"] == "9464"


def test_install_uses_the_constraints() -> None:
    runs = " ".join(a for w, a in instructions() if w == "RUN")
    installs = runs.count("pip install")
    assert installs >= 3  # build tools, the package, the core's compiler
    assert runs.count("--constraint deploy/constraints.txt") == installs
    assert "--no-build-isolation" in runs


def test_image_builds_the_compiled_core_by_default_and_checks_it_loads() -> None:
    args = [a for w, a in instructions() if w == "ARG"]
    assert "COMPILE_CORE=1" in args
    runs = " ".join(a for w, a in instructions() if w == "RUN")
    assert "tools/build_core.py" in runs
    # Loaded from the installed package (-P: not the build context's app/), not stale.
    assert "-P -W error::RuntimeWarning" in runs and 'endswith(".so")' in runs
    assert ignored("app/core/coordination.cpython-311-x86_64-linux-gnu.so")
    assert not ignored("tools/build_core.py") and ignored("tools/harvest_onset.py")


def test_constraints_pin_the_core_compiler() -> None:
    pinned = pins()
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    reqs = [Requirement(d) for group in dev.values() for d in group]
    mypy = next(r for r in reqs if r.name == "mypy")
    assert mypy.specifier.contains(pinned["mypy"])


def test_image_supports_the_rocksdb_table_store() -> None:
    # The README's production setting (ABUSE_STORE_URL=rocksdb://) needs rocksdict.
    runs = " ".join(a for w, a in instructions() if w == "RUN")
    assert "'.[rocksdb]'" in runs
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    rocksdict = next(Requirement(d) for d in extras["rocksdb"])
    assert rocksdict.name == "rocksdict" and rocksdict.specifier.contains(pins()["rocksdict"])


def test_every_copied_path_exists_and_is_not_ignored() -> None:
    for word, args in instructions():
        if word != "COPY" or args.startswith("--from"):
            continue
        for source in args.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert not ignored(source), f"{source} is excluded by .dockerignore"


def test_dockerignore_keeps_the_context_small() -> None:
    for path in (".git", ".venv", "tests", "docs", ".pytest_cache"):
        assert ignored(path), path
    for path in ("app", "pyproject.toml", "deploy/constraints.txt"):
        assert not ignored(path), path


def test_constraints_pin_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pinned = pins()
    for dep in project["project"]["dependencies"]:
        req = Requirement(dep)
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not pinned in {CONSTRAINTS.name}"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"{req.name}=={pinned[name]} does not satisfy {req.specifier}"
        )
    build = project["build-system"]["requires"]
    for dep in build:
        req = Requirement(dep)
        assert req.specifier.contains(pinned[canonicalize_name(req.name)]), dep
