"""The pages' files are package data: the installed package has them, and the wheel ships them."""

from __future__ import annotations

import tomllib
from glob import glob
from importlib import resources
from pathlib import Path
from typing import Any

import graphql_facade.web
from graphql_facade.web import load_assets
from graphql_facade.web.vendor import PINS

ROOT = Path(__file__).resolve().parents[4]
PACKAGE_DIR = Path(graphql_facade.web.__file__).resolve().parent


def package_files(*folders: str) -> set[str]:
    """The files below these folders of the package (as ``folder/.../name``), caches left out."""
    return {
        path.relative_to(PACKAGE_DIR).as_posix()
        for folder in folders
        for path in (PACKAGE_DIR / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def setuptools_settings() -> dict[str, Any]:
    """``[tool.setuptools]`` of the project's ``pyproject.toml``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    settings: dict[str, Any] = project["tool"]["setuptools"]
    return settings


def shipped_files() -> set[str]:
    """The package's files the wheel ships: setuptools expands each package-data pattern with
    ``glob(recursive=True)`` in the package's folder (``build_py.find_data_files``)."""
    patterns = setuptools_settings()["package-data"]["graphql_facade.web"]
    return {
        Path(match).relative_to(PACKAGE_DIR).as_posix()
        for pattern in patterns
        for match in glob(str(PACKAGE_DIR / pattern), recursive=True)
        if Path(match).is_file()
    }


def test_the_installed_package_has_every_static_file_and_the_template() -> None:
    package = resources.files("graphql_facade.web")
    assets = load_assets()
    served = {asset.path for asset in assets}
    assert served == {path.removeprefix("static/") for path in package_files("static")}
    for pin in PINS:
        for name in pin.files.values():
            assert f"vendor/{pin.folder}/{name}" in served
    assert {"favicon.ico", "graphiql/boot.js", "graphiql/page.css", "vendor/VENDORED.md"} <= served
    for asset in assets:
        assert (package / "static" / asset.path).read_bytes() == asset.body
    assert "$graphiql_js" in (package / "templates" / "graphiql.html").read_text("utf-8")


def test_the_package_data_settings_put_every_file_in_the_wheel() -> None:
    """setuptools expands each pattern with ``glob(recursive=True)`` in the package's folder
    (``build_py.find_data_files``): every static file and template must match one."""
    settings = setuptools_settings()
    assert any(package.startswith("graphql_facade") for package in settings["packages"]["find"]["include"])
    shipped = shipped_files()
    assert package_files("static", "templates") <= shipped
