"""Install the real npm packages once and run batches of ``rc.cjs`` operations.

Used by ``tests/integration/test_wire_interop.py`` and ``benchmarks/wire.py``. Packages go to
``<repo>/.cache/interop-npm`` (git-ignored); a stamp holding the sha256 of ``package.json``
skips the install when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
DEFAULT_INSTALL_DIR = REPO_ROOT / ".cache" / "interop-npm"
SCRIPT = HERE / "rc.cjs"
#: Aliases of the real request-crypto packages in package.json.
PACKAGES = ("rc-2.0.0", "rc-2.0.3")


class NpmUnavailable(RuntimeError):
    """node or npm is missing, or the install failed."""


def ensure_installed(install_dir: Path = DEFAULT_INSTALL_DIR, *, timeout: float = 300) -> Path:
    """Install package.json's dependencies into `install_dir` unless already done."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise NpmUnavailable("node and npm are needed on PATH for the request-crypto interop")
    manifest = (HERE / "package.json").read_bytes()
    digest = hashlib.sha256(manifest).hexdigest()
    stamp = install_dir / ".installed-sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest and _complete(install_dir):
        return install_dir
    install_dir.mkdir(parents=True, exist_ok=True)
    (install_dir / "package.json").write_bytes(manifest)
    command = [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"]
    try:
        done = subprocess.run(
            command, cwd=install_dir, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise NpmUnavailable(f"npm install timed out after {timeout:.0f} s") from None
    if done.returncode != 0 or not _complete(install_dir):
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise NpmUnavailable("npm install failed: " + " | ".join(tail))
    stamp.write_text(digest)
    return install_dir


def run_batch(install_dir: Path, cases: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """Run `cases` in one node process; return the results by case id."""
    with tempfile.NamedTemporaryFile("w", dir=workdir, suffix=".json", delete=False) as handle:
        json.dump({"cases": cases}, handle)
    job = Path(handle.name)
    done = subprocess.run(
        ["node", str(SCRIPT), str(install_dir), str(job)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"node failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return {result["id"]: result for result in json.loads(done.stdout)}


def _complete(install_dir: Path) -> bool:
    modules = install_dir / "node_modules"
    names = (*PACKAGES, "node-jose", "@elastic/node-crypto")
    return all((modules / name / "package.json").is_file() for name in names)
