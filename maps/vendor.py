"""Install the maps' browser assets into ``static/vendor/`` at install time: ``python -m maps.vendor``.

folium and its plugins write CDN addresses into every map; with no internet the map stays blank.
Each file a OneGrid map loads is listed in ``maps/assets.json`` with the package it comes from and
that package's registry integrity hash. This module fetches each package once from its registry
(``npm pack`` for npm packages, so the npm client's registry, proxy and cache settings apply; the
installed distribution for Python packages), verifies the hash, and copies only the listed files
to ``static/vendor/<name>@<version>/``. At run time :mod:`maps.offline` points the maps at them.

Nothing is fetched at run time; a file whose hash does not match is refused, never installed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS_FILE = Path(__file__).with_name("assets.json")
VENDOR_DIR = ROOT / "static" / "vendor"
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org"


class VendorError(RuntimeError):
    """An asset could not be fetched, or its content does not match the pinned hash."""


@dataclass(frozen=True)
class Package:
    source: str  # "npm" or "python"
    name: str
    version: str
    files: tuple[str, ...]
    integrity: str = ""  # npm: the registry's tarball integrity (sha512-…)
    sha256: tuple[tuple[str, str], ...] = ()  # python: per-file sha256

    @property
    def folder(self) -> str:
        """Folder under ``static/vendor`` (an npm scope is dropped: ``@a/b`` → ``b@ver``)."""
        return f"{self.name.rsplit('/', 1)[-1]}@{self.version}"


def load_manifest(path: Path = ASSETS_FILE) -> tuple[list[Package], dict[str, str | None]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    packages = []
    for p in doc["packages"]:
        files = p["files"]
        if isinstance(files, dict):
            packages.append(
                Package(
                    source=p["source"],
                    name=p["name"],
                    version=p["version"],
                    files=tuple(files),
                    sha256=tuple(files.items()),
                )
            )
        else:
            packages.append(
                Package(
                    source=p["source"],
                    name=p["name"],
                    version=p["version"],
                    files=tuple(files),
                    integrity=p.get("integrity", ""),
                )
            )
    return packages, dict(doc["urls"])


def _check_integrity(data: bytes, integrity: str, *, what: str) -> None:
    algo, _, want = integrity.partition("-")
    if algo not in {"sha512", "sha384", "sha256"} or not want:
        raise VendorError(f"{what}: unsupported integrity {integrity!r}")
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != want:
        raise VendorError(f"{what}: integrity mismatch (want {integrity}, got {algo}-{got}); not installed")


def _npm_tarball(pkg: Package, workdir: Path) -> bytes:
    spec = f"{pkg.name}@{pkg.version}"
    npm = shutil.which("npm")
    if npm:
        out = subprocess.run(
            [npm, "pack", spec, "--json", "--pack-destination", str(workdir)],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if out.returncode != 0:
            raise VendorError(f"npm pack {spec} failed: {out.stderr.strip()[-500:]}")
        info = json.loads(out.stdout)
        entry = info[0] if isinstance(info, list) else info
        return (workdir / entry["filename"]).read_bytes()
    # Without the npm client, the registry's tarball address (same content, same integrity).
    registry = os.environ.get("NPM_CONFIG_REGISTRY", DEFAULT_NPM_REGISTRY).rstrip("/")
    base = pkg.name.rsplit("/", 1)[-1]
    url = f"{registry}/{pkg.name}/-/{base}-{pkg.version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=120) as resp:
            return resp.read()
    except OSError as exc:
        raise VendorError(f"cannot download {spec} from {url}: {exc}") from exc


def _wanted(member: str, files: Sequence[str]) -> bool:
    return any(member == f or (f.endswith("/") and member.startswith(f)) for f in files)


def _install_npm(pkg: Package, dest: Path, workdir: Path) -> list[Path]:
    data = _npm_tarball(pkg, workdir)
    _check_integrity(data, pkg.integrity, what=f"{pkg.name}@{pkg.version}")
    written: list[Path] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            # npm tarballs put everything under one top folder, usually "package/".
            rel = member.name.split("/", 1)[1] if "/" in member.name else member.name
            if ".." in Path(rel).parts or not _wanted(rel, pkg.files):
                continue
            fh = tar.extractfile(member)
            assert fh is not None
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(fh.read())
            written.append(target)
    missing = [f for f in pkg.files if not f.endswith("/") and not (dest / f).is_file()]
    if missing:
        raise VendorError(f"{pkg.name}@{pkg.version} has no {missing}; fix maps/assets.json")
    return written


def _install_python(pkg: Package, dest: Path) -> list[Path]:
    try:
        installed = importlib.metadata.version(pkg.name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise VendorError(f"Python package {pkg.name} is not installed; run `make install`") from exc
    if installed != pkg.version:
        raise VendorError(f"{pkg.name} {installed} is installed but maps/assets.json pins {pkg.version}")
    spec = importlib.util.find_spec(pkg.name)
    if spec is None or spec.origin is None:
        raise VendorError(f"cannot locate the files of Python package {pkg.name}")
    root = Path(spec.origin).parent
    written = []
    for rel, sha in pkg.sha256:
        data = (root / rel).read_bytes()
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            raise VendorError(f"{pkg.name}/{rel}: sha256 mismatch (want {sha}, got {got}); not installed")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written


def install(
    *, vendor_dir: Path = VENDOR_DIR, manifest: Path = ASSETS_FILE, force: bool = False, quiet: bool = False
) -> list[Path]:
    """Fetch, verify and install every package of the manifest; return the files written.

    Each package goes to a temporary folder first and replaces its old folder only when complete,
    so a failed download never leaves half a package behind.
    """
    packages, urls = load_manifest(manifest)
    vendor_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix=".vendor-", dir=vendor_dir) as tmp:
        work = Path(tmp)
        for pkg in packages:
            final = vendor_dir / pkg.folder
            stamp = final / ".complete"
            if stamp.is_file() and not force:
                continue
            staging = work / pkg.folder
            staging.mkdir(parents=True)
            if pkg.source == "npm":
                files = _install_npm(pkg, staging, work)
            elif pkg.source == "python":
                files = _install_python(pkg, staging)
            else:
                raise VendorError(f"unknown asset source {pkg.source!r} for {pkg.name}")
            (staging / ".complete").write_text(f"{pkg.name}@{pkg.version}\n", encoding="utf-8")
            if final.exists():
                shutil.rmtree(final)
            staging.rename(final)
            written.extend(final / f.relative_to(staging) for f in files)
            if not quiet:
                print(f"vendored {pkg.name}@{pkg.version}: {len(files)} files")
    missing = missing_files(vendor_dir=vendor_dir, urls=urls)
    if missing:
        raise VendorError(f"maps/assets.json maps URLs to files no package provides: {missing}")
    return written


def missing_files(*, vendor_dir: Path = VENDOR_DIR, urls: dict[str, str | None] | None = None) -> list[str]:
    """Local files the URL table points at that are not installed (empty when all is well)."""
    if urls is None:
        urls = load_manifest()[1]
    return sorted({rel for rel in urls.values() if rel and not (vendor_dir / rel).is_file()})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m maps.vendor", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="fetch again even if installed")
    parser.add_argument("--check", action="store_true", help="only report missing files (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        missing = missing_files()
        for rel in missing:
            print(f"missing: static/vendor/{rel}")
        return 1 if missing else 0
    try:
        install(force=args.force)
    except VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"map assets ready in {VENDOR_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
