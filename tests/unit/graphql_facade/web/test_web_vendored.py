"""The vendored browser assets against VENDORED.md (the drift check, offline), and the vendoring script
on a registry answered in memory."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from graphql_facade.web import vendor
from graphql_facade.web.vendor import MANIFEST, PINS, VENDOR_DIR, Pin, VendorError


def test_every_vendored_file_has_its_recorded_hash() -> None:
    assert vendor.check() == []


def test_the_manifest_names_package_version_tarball_and_hash_of_every_file() -> None:
    entries = vendor.read_manifest(MANIFEST.read_text(encoding="utf-8"))
    files = sorted(p.relative_to(VENDOR_DIR).as_posix() for p in VENDOR_DIR.rglob("*") if p.is_file())
    assert sorted(e.path for e in entries) == sorted(f for f in files if f != "VENDORED.md")
    for entry in entries:
        assert entry.tarball == f"https://registry.npmjs.org/{entry.package}/-/{entry.package}-{entry.version}.tgz"
        assert entry.path.startswith(f"{entry.package}-{entry.version}/")
        assert entry.sha256 == hashlib.sha256((VENDOR_DIR / entry.path).read_bytes()).hexdigest()
    assert {(e.package, e.version) for e in entries} == {(p.name, p.version) for p in PINS}
    assert {"graphiql", "react", "react-dom"} == {p.name for p in PINS}
    assert PINS[0].version.startswith("3.") and all(p.version.startswith("18.") for p in PINS[1:])


def test_every_package_ships_its_license() -> None:
    for pin in PINS:
        assert "LICENSE" in pin.files.values()
        assert "MIT" in (VENDOR_DIR / pin.folder / "LICENSE").read_text(encoding="utf-8")


def test_the_manifest_round_trips() -> None:
    entries = vendor.read_manifest(MANIFEST.read_text(encoding="utf-8"))
    assert vendor.read_manifest(vendor.render_manifest(entries)) == entries


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "vendor"
    shutil.copytree(VENDOR_DIR, target)
    return target


def test_a_changed_missing_or_extra_file_is_drift(copy: Path) -> None:
    assert vendor.check(copy) == []
    react = copy / "react-18.3.1" / "react.production.min.js"
    react.write_bytes(react.read_bytes() + b"\n")
    (copy / "react-dom-18.3.1" / "LICENSE").unlink()
    (copy / "graphiql-3.8.3" / "extra.js").write_text("0")
    problems = "\n".join(vendor.check(copy))
    assert "react-18.3.1/react.production.min.js: sha256" in problems
    assert "react-dom-18.3.1/LICENSE: missing" in problems
    assert "graphiql-3.8.3/extra.js: not listed" in problems


def test_a_pin_that_moved_without_its_manifest_is_drift(copy: Path) -> None:
    moved = (Pin("react", "18.3.0", PINS[1].files), *(p for p in PINS if p.name != "react"))
    problems = "\n".join(vendor.check(copy, moved))
    assert "react-18.3.0/react.production.min.js: pinned (react 18.3.0) but not in VENDORED.md" in problems
    assert "react-18.3.1/LICENSE: in VENDORED.md but not pinned" in problems


PIN = Pin("left-pad", "1.3.0", {"dist/left-pad.min.js": "left-pad.min.js", "LICENSE": "LICENSE"})


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class _Registry:
    """The registry's answers: the tarball and its metadata (``dist.integrity``)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.tarball = _tarball(files)
        self.integrity = "sha512-" + base64.b64encode(hashlib.sha512(self.tarball).digest()).decode()
        self.asked: list[str] = []

    def get(self, url: str) -> bytes:
        self.asked.append(url)
        if url == PIN.tarball_url("https://registry.test"):
            return self.tarball
        if url == "https://registry.test/left-pad/1.3.0":
            return json.dumps({"dist": {"integrity": self.integrity}}).encode()
        raise VendorError(f"GET {url}: 404")


def test_fetch_writes_the_pinned_files_and_checks_them_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _Registry({"dist/left-pad.min.js": b"pad()", "LICENSE": b"MIT", "README.md": b"not taken"})
    monkeypatch.setattr(vendor, "_get", registry.get)
    target = tmp_path / "vendor"
    (target / "left-pad-1.2.0").mkdir(parents=True)  # a version no longer pinned goes
    entries = vendor.fetch(target, [PIN], registry="https://registry.test", update=True)
    assert [e.path for e in entries] == ["left-pad-1.3.0/left-pad.min.js", "left-pad-1.3.0/LICENSE"]
    assert (target / "left-pad-1.3.0" / "left-pad.min.js").read_bytes() == b"pad()"
    assert not (target / "left-pad-1.2.0").exists()
    assert not (target / "left-pad-1.3.0" / "README.md").exists()
    assert vendor.check(target, [PIN]) == []
    # Fetched again without --update: the same hashes, so the same files.
    vendor.fetch(target, [PIN], registry="https://registry.test")
    assert vendor.check(target, [PIN]) == []


def test_fetch_refuses_a_file_whose_hash_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "vendor"
    monkeypatch.setattr(vendor, "_get", _Registry({"dist/left-pad.min.js": b"pad()", "LICENSE": b"MIT"}).get)
    vendor.fetch(target, [PIN], registry="https://registry.test", update=True)
    monkeypatch.setattr(vendor, "_get", _Registry({"dist/left-pad.min.js": b"evil()", "LICENSE": b"MIT"}).get)
    with pytest.raises(VendorError, match=r"left-pad\.min\.js: the registry's file has sha256"):
        vendor.fetch(target, [PIN], registry="https://registry.test")
    assert (target / "left-pad-1.3.0" / "left-pad.min.js").read_bytes() == b"pad()"  # nothing written


def test_fetch_refuses_a_tarball_the_registry_does_not_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _Registry({"dist/left-pad.min.js": b"pad()", "LICENSE": b"MIT"})
    registry.integrity = "sha512-" + base64.b64encode(hashlib.sha512(b"another").digest()).decode()
    monkeypatch.setattr(vendor, "_get", registry.get)
    with pytest.raises(VendorError, match="does not match the registry's integrity"):
        vendor.fetch(tmp_path / "vendor", [PIN], registry="https://registry.test", update=True)
    assert not (tmp_path / "vendor").exists()


def test_fetch_refuses_a_tarball_without_a_pinned_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vendor, "_get", _Registry({"LICENSE": b"MIT"}).get)
    with pytest.raises(VendorError, match=r"the tarball has no dist/left-pad\.min\.js"):
        vendor.fetch(tmp_path / "vendor", [PIN], registry="https://registry.test", update=True)


def test_the_command_line_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert vendor.main(["check"]) == 0
    assert "every vendored file has its recorded sha256" in capsys.readouterr().out
