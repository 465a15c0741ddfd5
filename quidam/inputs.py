"""The input boundary: every file the command line reads, and every folder it writes to, passes here.

Reading (:func:`read_text`, :func:`load_yaml`, :func:`load_json`; :func:`read_bytes` for
binary files such as trained weights and image batches) refuses, with
one line naming the file and what is allowed, before anything is parsed:

* a path that is missing, a folder, or not a regular file (a FIFO, a device
  such as ``/dev/zero``, a socket);
* a file larger than its limit (:data:`YAML_BYTES`, :data:`JSON_BYTES`,
  :data:`CSV_BYTES`), read no further than the limit;
* (text only) text that is not UTF-8 (a UTF-8 byte-order mark is accepted), or that holds
  NUL bytes (a binary file).

While parsing, YAML (the safe loader, always) refuses duplicate keys, aliases
(``*name``: they make billion-laughs expansions possible), nesting deeper than
:data:`MAX_DEPTH` and integers of more than :data:`MAX_DIGITS` digits; JSON
refuses duplicate keys, ``NaN``/``Infinity`` and the same nesting and integer
limits. Whether a number is finite and in range is each field's own check
(:meth:`quidam.config.FieldRule.check`).

On the command line, :class:`FiniteFloat` is the type of every real-valued
option: a range that, unlike :class:`click.FloatRange`, also refuses ``nan``
and ``inf``.

Writing: :func:`output_dir` creates an output folder or refuses it (a regular
file on its path, no permission) with one line naming it. Every refusal is a
:class:`~quidam.errors.QuidamError` (exit status 2).
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import click
import yaml

from .errors import QuidamError

__all__ = ["CSV_BYTES", "JSON_BYTES", "MAX_DEPTH", "MAX_DIGITS", "YAML_BYTES", "FiniteFloat", "InputError",
           "MAX_TEXT", "check_finite", "free_text", "load_json", "load_yaml", "output_dir", "read_bytes", "read_text"]

#: Largest YAML file read (configurations, sweeps, spaces), bytes.
YAML_BYTES = 1 << 20
#: Largest JSON file read (model cards, run records), bytes.
JSON_BYTES = 16 << 20
#: Largest CSV file read (datasets), bytes.
CSV_BYTES = 64 << 20
#: Deepest nesting of mappings and lists accepted in YAML and JSON.
MAX_DEPTH = 32
#: Most digits of an integer accepted in YAML and JSON.
MAX_DIGITS = 30
#: Longest free-text value (a sweep's or space's description), characters.
MAX_TEXT = 500


class InputError(QuidamError, ValueError):
    """A file or folder given to quidam is unusable; the message names it and says why."""


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit} bytes"


def read_bytes(path: str | os.PathLike[str], what: str, *, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Parameters
    ----------
    path : path
        The file.
    what : str
        What the file is (``configuration``, ``weights``, ...): the first word of every message.
    limit : int
        Largest size accepted, bytes.

    Raises
    ------
    InputError
        Missing, not a regular file or too large.
    """
    path = Path(path)
    prefix = f"{what} {path}"
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"{prefix}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{prefix}: is a folder, not a file") from None
    except OSError as error:
        raise InputError(f"{prefix}: cannot read: {error.strerror or error}") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise InputError(f"{prefix}: is a folder, not a file")
        raise InputError(f"{prefix}: not a regular file (a FIFO, device or socket); give a file")
    os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{prefix}: larger than the {_size(limit)} limit of a {what} file")
    return data


def read_text(path: str | os.PathLike[str], what: str, *, limit: int = YAML_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit`` bytes.

    Parameters
    ----------
    path : path
        The file.
    what : str
        What the file is (``configuration``, ``sweep``, ...): the first word of every message.
    limit : int
        Largest size accepted, bytes.

    Raises
    ------
    InputError
        Refused by :func:`read_bytes`, not UTF-8 or binary.
    """
    data = read_bytes(path, what, limit=limit)
    prefix = f"{what} {Path(path)}"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{prefix}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
                         f"save it as UTF-8") from None
    if "\0" in text:
        raise InputError(f"{prefix}: a binary file (NUL byte at offset {text.index(chr(0))}), not {what} text")
    return text


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing aliases, duplicate keys, deep nesting and huge integers."""

    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.MarkedYAMLError(problem="aliases (*name) are not accepted",
                                       problem_mark=self.peek_event().start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.MarkedYAMLError(problem=f"nested deeper than {MAX_DEPTH} levels",
                                           problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                raise yaml.MarkedYAMLError(problem="a key is a list or mapping",
                                           problem_mark=key_node.start_mark) from None
            if duplicate:
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        digits = sum(ch.isdigit() for ch in node.value)
        if digits > MAX_DIGITS:
            raise yaml.MarkedYAMLError(problem=f"an integer of {digits} digits (at most {MAX_DIGITS})",
                                       problem_mark=node.start_mark)
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def load_yaml(path: str | os.PathLike[str], what: str) -> Any:
    """The data of the YAML file ``path`` (safe loader, see the module docstring); ``None`` when empty.

    Raises
    ------
    InputError
        The file is refused by :func:`read_text`, or its YAML is malformed or refused
        (the message gives the line and column).
    """
    text = read_text(path, what, limit=YAML_BYTES)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise InputError(f"{what} {path}: malformed YAML{where}: {' '.join(str(problem).split())}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as error:  # e.g. a timestamp 2020-13-45
        raise InputError(f"{what} {path}: unreadable YAML value: {' '.join(str(error).split())}") from None


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_DIGITS})")
    return int(text)


def _json_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number quidam accepts")


def _json_float(text: str) -> float:
    return check_finite(float(text), "a number")


def _depth(data: Any) -> int:
    stack, deepest = [(data, 1)], 0
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def load_json(path: str | os.PathLike[str], what: str, *, limit: int = JSON_BYTES) -> Any:
    """The data of the JSON file ``path`` (see the module docstring for what is refused).

    Raises
    ------
    InputError
        The file is refused by :func:`read_text`, or its JSON is malformed or refused.
    """
    text = read_text(path, what, limit=limit)
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs, parse_int=_json_int, parse_float=_json_float,
                          parse_constant=_json_constant)
    except RecursionError:
        raise InputError(f"{what} {path}: JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        raise InputError(f"{what} {path}: malformed JSON: {' '.join(str(error).split())}") from None
    if _depth(data) > MAX_DEPTH:
        raise InputError(f"{what} {path}: JSON nested deeper than {MAX_DEPTH} levels")
    return data


def check_finite(value: float, what: str) -> float:
    """``value`` when it is a finite number; else :class:`InputError` naming ``what``."""
    if not math.isfinite(value):
        raise InputError(f"{what}: must be a finite number, not {value!r}")
    return value


def free_text(value: Any, what: str) -> str:
    """``value`` when it is a string of at most :data:`MAX_TEXT` characters; else :class:`InputError` naming
    ``what``."""
    if not isinstance(value, str):
        raise InputError(f"{what}: must be free text, not a {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise InputError(f"{what}: must be at most {MAX_TEXT} characters, not {len(value):,}")
    return value


class FiniteFloat(click.FloatRange):
    """A click option type: a finite number within ``min``..``max`` (``nan`` and ``inf`` refused)."""

    name = "finite float"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def output_dir(path: str | os.PathLike[str], what: str) -> Path:
    """Create the output folder ``path`` (and its parents) or refuse it with one line naming it.

    Raises
    ------
    InputError
        A file is in the way, or the folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{what} {path}: exists and is not a folder") from None
    except OSError as error:
        blocker = next((parent for parent in (path, *path.parents) if parent.exists() and not parent.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker else (error.strerror or str(error))
        raise InputError(f"{what} {path}: cannot create the folder: {reason}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path}: the folder is not writable")
    return path
