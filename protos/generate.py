"""Generate the Python code for every proto under protos/mes into protos/gen.

One generator for the whole repository. ``--check`` regenerates into a temporary
folder and fails when the committed output differs (the drift check run by CI).

    python protos/generate.py          # regenerate protos/gen
    python protos/generate.py --check  # exit 1 on drift
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "mes"
OUTPUT = ROOT / "gen"
_WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"
_BIN = Path(sys.executable).parent  # mypy-protobuf's plugins live beside the interpreter


def _protos() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in SOURCE.rglob("*.proto"))


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"-I{_WELL_KNOWN}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={_BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={_BIN / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *_protos(),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Packages need __init__.py so that setuptools and mypy find them.
    for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        if folder != out:
            (folder / "__init__.py").touch()
    (out / "mes" / "py.typed").touch()


def _diff(a: Path, b: Path) -> list[str]:
    names_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    names_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    problems = [f"missing: {n}" for n in sorted(names_b - names_a)]
    problems += [f"unexpected: {n}" for n in sorted(names_a - names_b)]
    problems += [f"differs: {n}" for n in sorted(names_a & names_b) if not filecmp.cmp(a / n, b / n, shallow=False)]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when protos/gen is out of date")
    ns = parser.parse_args()
    if ns.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "gen"
            generate(fresh)
            problems = _diff(OUTPUT, fresh)
        if problems:
            print("generated code drifted from the protos; run: python protos/generate.py", file=sys.stderr)
            print("\n".join(problems), file=sys.stderr)
            return 1
        print(f"generated code is up to date ({len(_protos())} protos)")
        return 0
    if OUTPUT.exists():
        shutil.rmtree(OUTPUT)
    generate(OUTPUT)
    print(f"generated {len(_protos())} protos into {OUTPUT.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
