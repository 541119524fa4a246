"""The browser assets the facade ships, fetched from the npm registry and pinned by hash.

``static/vendor/<name>-<version>/`` holds only the files the pages load (and each package's
LICENSE), taken unchanged from the package's registry tarball; ``static/vendor/VENDORED.md`` lists
every one with its package, version, tarball URL and sha256. Nothing of Node runs at run time.

::

    python -m graphql_facade.web.vendor check           # the committed files against VENDORED.md (offline)
    python -m graphql_facade.web.vendor fetch           # fetch the tarballs again, check every hash, write the files
    python -m graphql_facade.web.vendor fetch --update  # after changing PINS: write the files and VENDORED.md anew

``fetch`` checks each tarball against the registry's ``dist.integrity`` (sha512) before reading
it; without ``--update`` a file whose hash differs from VENDORED.md stops it, nothing written.
The registry is ``--registry``, else ``NPM_CONFIG_REGISTRY``, else https://registry.npmjs.org.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MANIFEST",
    "PINS",
    "VENDOR_DIR",
    "Entry",
    "Pin",
    "VendorError",
    "check",
    "fetch",
    "main",
    "read_manifest",
    "render_manifest",
]

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
MANIFEST_NAME = "VENDORED.md"
MANIFEST = VENDOR_DIR / MANIFEST_NAME
DEFAULT_REGISTRY = "https://registry.npmjs.org"
_TIMEOUT_S = 60.0
_HEADER = "| package | version | file | sha256 | tarball |"


class VendorError(Exception):
    """A vendored file is missing, differs from its recorded hash, or the registry answered otherwise."""


@dataclass(frozen=True)
class Pin:
    """One npm package at an exact version: ``files`` maps a path in its tarball (under ``package/``)
    to the file's name in ``vendor/<name>-<version>/``."""

    name: str
    version: str
    files: Mapping[str, str]

    @property
    def folder(self) -> str:
        return f"{self.name.replace('/', '-').lstrip('@')}-{self.version}"

    def tarball_url(self, registry: str = DEFAULT_REGISTRY) -> str:
        base = self.name.rsplit("/", 1)[-1]
        return f"{registry.rstrip('/')}/{self.name}/-/{base}-{self.version}.tgz"


#: GraphiQL's UMD build takes React and ReactDOM from ``window`` (the 18 UMD production builds);
#: everything else it needs (graphql, CodeMirror, graphql-ws) is inside the bundle.
PINS: tuple[Pin, ...] = (
    Pin(
        "graphiql",
        "3.8.3",
        {"graphiql.min.js": "graphiql.min.js", "graphiql.min.css": "graphiql.min.css", "LICENSE": "LICENSE"},
    ),
    Pin("react", "18.3.1", {"umd/react.production.min.js": "react.production.min.js", "LICENSE": "LICENSE"}),
    Pin(
        "react-dom",
        "18.3.1",
        {"umd/react-dom.production.min.js": "react-dom.production.min.js", "LICENSE": "LICENSE"},
    ),
)


@dataclass(frozen=True)
class Entry:
    """One row of VENDORED.md: ``path`` is relative to ``vendor/``."""

    package: str
    version: str
    path: str
    sha256: str
    tarball: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_entries(pins: Sequence[Pin] = PINS, registry: str = DEFAULT_REGISTRY) -> list[tuple[Pin, str, str]]:
    """(pin, path in the tarball, path under ``vendor/``) of every file the pins ship."""
    return [(pin, source, f"{pin.folder}/{dest}") for pin in pins for source, dest in pin.files.items()]


def read_manifest(text: str) -> list[Entry]:
    """The rows of VENDORED.md's table."""
    entries: list[Entry] = []
    in_table = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == _HEADER:
            in_table = True
            continue
        if not in_table:
            continue
        if not stripped.startswith("|"):
            break
        cells = [cell.strip().strip("`") for cell in stripped.strip("|").split("|")]
        if set("".join(cells)) <= set("-: "):
            continue
        if len(cells) != 5:
            raise VendorError(f"{MANIFEST_NAME}: a row has {len(cells)} cells, not 5: {line!r}")
        entries.append(Entry(*cells))
    return entries


def render_manifest(entries: Sequence[Entry]) -> str:
    """VENDORED.md for ``entries``."""
    lines = [
        "# Vendored browser assets",
        "",
        "Files taken unchanged from the npm registry's tarballs, served by the facade under",
        "`/static/vendor/` (nothing is fetched from elsewhere at run time). Written by",
        "`python -m graphql_facade.web.vendor fetch --update` from its `PINS`; checked by",
        "`python -m graphql_facade.web.vendor check` and `tests/unit/graphql_facade/web/test_web_vendored.py`.",
        "",
        _HEADER,
        "|---|---|---|---|---|",
    ]
    lines += [f"| {e.package} | {e.version} | `{e.path}` | `{e.sha256}` | {e.tarball} |" for e in entries]
    return "\n".join(lines) + "\n"


def check(vendor_dir: Path = VENDOR_DIR, pins: Sequence[Pin] = PINS) -> list[str]:
    """What differs between ``vendor_dir``, its VENDORED.md and ``pins`` (empty: nothing). Offline."""
    manifest = vendor_dir / MANIFEST_NAME
    if not manifest.is_file():
        return [f"{manifest} is missing"]
    entries = read_manifest(manifest.read_text(encoding="utf-8"))
    problems: list[str] = []
    listed = {e.path: e for e in entries}
    for pin, _, path in expected_entries(pins):
        entry = listed.get(path)
        if entry is None:
            problems.append(f"{path}: pinned ({pin.name} {pin.version}) but not in {MANIFEST_NAME}")
        elif (entry.package, entry.version, entry.tarball) != (pin.name, pin.version, pin.tarball_url()):
            problems.append(f"{path}: {MANIFEST_NAME} says {entry.package} {entry.version}, the pin {pin.version}")
    pinned = {path for _, _, path in expected_entries(pins)}
    for entry in entries:
        if entry.path not in pinned:
            problems.append(f"{entry.path}: in {MANIFEST_NAME} but not pinned")
        file = vendor_dir / entry.path
        if not file.is_file():
            problems.append(f"{entry.path}: missing")
        elif _sha256(file.read_bytes()) != entry.sha256:
            problems.append(f"{entry.path}: sha256 {_sha256(file.read_bytes())}, {MANIFEST_NAME} says {entry.sha256}")
    for file in sorted(p for p in vendor_dir.rglob("*") if p.is_file()):
        relative = file.relative_to(vendor_dir).as_posix()
        if relative != MANIFEST_NAME and relative not in listed:
            problems.append(f"{relative}: not listed in {MANIFEST_NAME}")
    return problems


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json, application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            body: bytes = response.read()
    except OSError as exc:
        raise VendorError(f"GET {url}: {exc}") from exc
    return body


def _check_integrity(pin: Pin, tarball: bytes, registry: str) -> None:
    """The tarball is the one the registry's metadata names (``dist.integrity``, sha512)."""
    meta = json.loads(_get(f"{registry.rstrip('/')}/{pin.name}/{pin.version}"))
    integrity = str(meta.get("dist", {}).get("integrity", ""))
    algorithm, _, digest = integrity.partition("-")
    if algorithm != "sha512":
        raise VendorError(f"{pin.name} {pin.version}: the registry gives no sha512 integrity ({integrity!r})")
    actual = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if actual != digest:
        raise VendorError(f"{pin.name} {pin.version}: the tarball does not match the registry's integrity")


def _extract(pin: Pin, tarball: bytes) -> dict[str, bytes]:
    """The pinned files of ``tarball`` by their path under ``vendor/``."""
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for source, dest in pin.files.items():
            try:
                member = archive.getmember(f"package/{source}")
            except KeyError:
                raise VendorError(f"{pin.name} {pin.version}: the tarball has no {source}") from None
            handle = archive.extractfile(member)
            if handle is None:
                raise VendorError(f"{pin.name} {pin.version}: {source} is not a file")
            found[f"{pin.folder}/{dest}"] = handle.read()
    return found


def fetch(
    vendor_dir: Path = VENDOR_DIR, pins: Sequence[Pin] = PINS, *, registry: str = DEFAULT_REGISTRY, update: bool = False
) -> list[Entry]:
    """Fetch every pinned tarball, check it and write its files (and, with ``update``, VENDORED.md).
    Without ``update`` every file must have the hash VENDORED.md records, or nothing is written."""
    recorded = {}
    manifest = vendor_dir / MANIFEST_NAME
    if not update:
        if not manifest.is_file():
            raise VendorError(f"{manifest} is missing: run with --update to write it")
        recorded = {e.path: e.sha256 for e in read_manifest(manifest.read_text(encoding="utf-8"))}
    files: dict[str, bytes] = {}
    entries: list[Entry] = []
    for pin in pins:
        tarball = _get(pin.tarball_url(registry))
        _check_integrity(pin, tarball, registry)
        for path, data in _extract(pin, tarball).items():
            digest = _sha256(data)
            if not update and recorded.get(path) != digest:
                raise VendorError(
                    f"{path}: the registry's file has sha256 {digest}, {MANIFEST_NAME} says {recorded.get(path)}"
                )
            files[path] = data
            entries.append(Entry(pin.name, pin.version, path, digest, pin.tarball_url()))
    for child in vendor_dir.iterdir() if vendor_dir.is_dir() else ():
        if child.is_dir() and child.name not in {pin.folder for pin in pins}:
            shutil.rmtree(child)  # a version no longer pinned
    for path, data in files.items():
        target = vendor_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if update:
        manifest.write_text(render_manifest(entries), encoding="utf-8")
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m graphql_facade.web.vendor", description="The vendored browser assets of the facade."
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("check", help="check the committed files against VENDORED.md (offline)")
    fetching = commands.add_parser("fetch", help="fetch the pinned tarballs again and write their files")
    fetching.add_argument("--update", action="store_true", help="record new hashes (after changing PINS)")
    fetching.add_argument("--registry", default=os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            entries = fetch(registry=args.registry, update=args.update)
            print(f"wrote {len(entries)} files under {VENDOR_DIR}")
            return 0
        problems = check()
    except VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{MANIFEST_NAME}: every vendored file has its recorded sha256")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
