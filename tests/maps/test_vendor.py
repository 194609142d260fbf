"""Install-time vendoring of the map assets: the manifest, hash checks and what gets extracted."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from maps import vendor


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_every_url_points_into_a_listed_package_file() -> None:
    packages, urls = vendor.load_manifest()
    provided = set()
    for p in packages:
        provided.update(f"{p.folder}/{f}" for f in p.files)
    for url, rel in urls.items():
        assert url.startswith("https://"), url
        if rel is None:
            continue
        folder, _, path = rel.partition("/")
        pkg = next(p for p in packages if p.folder == folder)
        assert any(path == f or (f.endswith("/") and path.startswith(f)) for f in pkg.files), rel
    for p in packages:
        assert p.integrity.startswith("sha512-") or p.sha256, p.name


def test_folium_default_assets_are_all_in_the_table() -> None:
    import folium.folium as ff

    _, urls = vendor.load_manifest()
    for _, url in [*ff._default_js, *ff._default_css]:
        assert url in urls, url


def test_integrity_mismatch_is_refused() -> None:
    with pytest.raises(vendor.VendorError, match="integrity mismatch"):
        vendor._check_integrity(b"tampered", _integrity(b"original"), what="x@1")
    with pytest.raises(vendor.VendorError, match="unsupported integrity"):
        vendor._check_integrity(b"x", "md5-abc", what="x@1")


def test_install_extracts_only_listed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _tarball(
        {
            "package/dist/a.js": b"a()",
            "package/dist/images/i.png": b"png",
            "package/src/unused.js": b"no",
            "package/../../evil.js": b"evil",
        }
    )
    manifest = tmp_path / "assets.json"
    manifest.write_text(
        json.dumps(
            {
                "packages": [
                    {
                        "source": "npm",
                        "name": "@scope/demo",
                        "version": "1.0.0",
                        "integrity": _integrity(data),
                        "files": ["dist/a.js", "dist/images/"],
                    }
                ],
                "urls": {
                    "https://cdn.example/demo/a.js": "demo@1.0.0/dist/a.js",
                    "https://cdn.example/x.css": None,
                },
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(vendor, "_npm_tarball", lambda pkg, work: data)
    out = tmp_path / "vendor"
    written = vendor.install(vendor_dir=out, manifest=manifest, quiet=True)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "demo@1.0.0/dist/a.js",
        "demo@1.0.0/dist/images/i.png",
    ]
    assert not (out / "demo@1.0.0" / "src").exists()
    assert not list(tmp_path.rglob("evil.js"))
    # installed packages are skipped unless forced
    monkeypatch.setattr(vendor, "_npm_tarball", lambda pkg, work: b"not fetched again")
    assert vendor.install(vendor_dir=out, manifest=manifest, quiet=True) == []


def test_install_refuses_a_tampered_tarball(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tmp_path / "assets.json"
    manifest.write_text(
        json.dumps(
            {
                "packages": [
                    {
                        "source": "npm",
                        "name": "demo",
                        "version": "1.0.0",
                        "integrity": _integrity(b"good"),
                        "files": ["a.js"],
                    }
                ],
                "urls": {},
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setattr(vendor, "_npm_tarball", lambda pkg, work: _tarball({"package/a.js": b"bad"}))
    with pytest.raises(vendor.VendorError, match="integrity mismatch"):
        vendor.install(vendor_dir=tmp_path / "v", manifest=manifest, quiet=True)
    assert not (tmp_path / "v" / "demo@1.0.0").exists()


def test_installed_assets_are_complete() -> None:
    """`make install` ran `python -m maps.vendor`; every file a map may load is there."""
    assert vendor.missing_files() == []
