"""Running the ``quidam`` command from tests: in a child process, in this process, and as a refused command.

The test modules import these (pytest puts ``tests/`` on ``sys.path``) instead
of each writing its own.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

from quidam.cli import main

__all__ = ["quidam", "run_cli", "refused"]


def quidam(*args) -> subprocess.CompletedProcess:
    """``python -m quidam ARGS`` in a child process, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "quidam", *map(str, args)], capture_output=True, text=True)


def run_cli(*args) -> tuple[int, str, str]:
    """``quidam ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(arg) for arg in args])
        except SystemExit as done:
            code = done.code or 0
    return code, out.getvalue(), err.getvalue()


def refused(*args) -> str:
    """The one line of a refused command (exit 2, nothing on stdout, no traceback)."""
    code, out, err = run_cli(*args)
    assert code == 2, (args, code, out, err)
    assert "Traceback" not in err and out == "", (args, out, err)
    (line,) = err.splitlines()
    assert line.startswith("error: ")
    return line
