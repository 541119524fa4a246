"""A child process the tests start, and the log file its output is appended to.

:class:`ChildProcess` holds what every such process has: ``proc`` (the ``subprocess.Popen``, None
before the first start), its PID, whether it still runs, and the log file opened again for each
start (appended to, so a restarted process keeps its earlier output). The servers of
:mod:`tests._infra.process` and the service and NATS node processes of the fault tests build on it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, TYPE_CHECKING, ClassVar

from tests._infra.ports import log_tail

__all__ = ["ChildProcess"]


class ChildProcess:
    """``proc`` and its log file at ``log_path``; the subclass sets both (``proc`` None until started)."""

    #: Lines of the log that :meth:`log_tail` gives by default (in error messages).
    tail_lines: ClassVar[int] = 30

    proc: subprocess.Popen[bytes] | None
    _log: IO[bytes] | None

    if TYPE_CHECKING:  # an attribute or a property of the subclass

        @property
        def log_path(self) -> Path: ...

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _open_log(self) -> IO[bytes]:
        """The log file opened for appending, for the next start's output (the previous one closed)."""
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        return self._log

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int | None = None) -> str:
        """The last ``lines`` lines of the log (:attr:`tail_lines` by default)."""
        if self._log is not None:
            self._log.flush()
        return log_tail(self.log_path, self.tail_lines if lines is None else lines)
