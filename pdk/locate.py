"""Where the Nangate45 process data lives, and whether it is the data we expect.

The PDK directory holds the three Nangate45 cell libraries
(``nangate45_{typ,fast,slow}.lib.gz``) and a ``fakeram45/`` folder of SRAM macro
models (``fakeram45_<depth>x<width>.lib``), laid out as in
``../shared/pdk/nangate45`` next to the checkout. It is chosen, first match wins,
by

1. an explicit argument (the ``--pdk-dir`` option of the command line),
2. the environment variable :data:`PDK_DIR_ENV` (``QUIDAM_PDK_DIR``),
3. :func:`default_pdk_dir`: ``../shared/pdk/nangate45`` relative to the
   repository root (the folder holding ``pyproject.toml``).

An installed wheel has no repository root, so there the default does not exist
and the error says to set ``QUIDAM_PDK_DIR`` or pass ``--pdk-dir``.

The cell libraries are checked against the SHA-256 digests in
:data:`CELL_LIBRARY_SHA256` (those of the OpenSTA ``examples/nangate45_*.lib.gz``
copies) before anything reads them. The fakeram45 models carry no fixed digest
(each OpenROAD-flow-scripts copy may be regenerated); they must all be present
(:data:`SRAM_MACRO_NAMES`) and are checked when parsed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import PDKError

__all__ = [
    "PDK_DIR_ENV",
    "CORNERS",
    "CELL_LIBRARY_SHA256",
    "SRAM_MACRO_DIR",
    "SRAM_MACRO_NAMES",
    "default_pdk_dir",
    "resolve_pdk_dir",
    "file_sha256",
    "cell_library_path",
    "available_corners",
    "sram_library_paths",
]

PDK_DIR_ENV = "QUIDAM_PDK_DIR"

CORNERS = ("typ", "fast", "slow")

#: SHA-256 of each known cell library file, by file name.
CELL_LIBRARY_SHA256 = {
    "nangate45_typ.lib.gz": "7ee6c11d0c8964f9971ba28b879a6cad28e178f86911adda71ac0672ce00f7ef",
    "nangate45_fast.lib.gz": "d93c6758c7ed42b90b010ed1ac12754477e67ed790db87fd1756e8ab6fe318c1",
    "nangate45_slow.lib.gz": "6bb0afb42df14944031c1aa10c49595f41726e867f69e39a411f563c2ae002ec",
}

#: Folder of the SRAM macro models inside the PDK directory.
SRAM_MACRO_DIR = "fakeram45"

#: The fakeram45 macros of the OpenROAD-flow-scripts nangate45 platform; each is
#: ``<name>.lib`` in :data:`SRAM_MACRO_DIR`.
SRAM_MACRO_NAMES = tuple(
    f"fakeram45_{depth}x{width}"
    for depth, width in (
        (32, 32), (32, 64),
        (64, 7), (64, 15), (64, 21), (64, 25), (64, 28), (64, 32), (64, 62),
        (64, 64), (64, 96), (64, 124), (64, 256),
        (128, 32), (128, 64), (128, 116), (128, 256),
        (256, 16), (256, 32), (256, 34), (256, 48), (256, 95), (256, 96),
        (512, 64), (1024, 32), (2048, 39),
    )
)

_REPOSITORY_ROOT = Path(__file__).resolve().parents[1]


def _cell_library_name(corner: str) -> str:
    """File name of the cell library of ``corner``."""
    return f"nangate45_{corner}.lib.gz"


def default_pdk_dir() -> Path:
    """The PDK directory used when neither an argument nor the environment names one.

    Returns
    -------
    Path
        ``<repository root>/../shared/pdk/nangate45``, where the repository root
        is the folder above this subpackage. It exists only in a checkout that
        sits next to ``shared/``.
    """
    return (_REPOSITORY_ROOT.parent / "shared" / "pdk" / "nangate45").resolve()


def resolve_pdk_dir(pdk_dir: str | os.PathLike[str] | None = None) -> Path:
    """Choose the PDK directory: ``pdk_dir``, else ``$QUIDAM_PDK_DIR``, else the default.

    Parameters
    ----------
    pdk_dir
        A directory given explicitly (the ``--pdk-dir`` option); ``None`` to fall
        back to the environment variable and then to :func:`default_pdk_dir`. An
        empty environment variable counts as unset.

    Returns
    -------
    Path
        The chosen directory, absolute.

    Raises
    ------
    PDKError
        The chosen directory does not exist; the message names it, says where the
        choice came from and how to choose another one.
    """
    if pdk_dir is not None:
        chosen, source = Path(pdk_dir), "--pdk-dir"
    elif os.environ.get(PDK_DIR_ENV):
        chosen, source = Path(os.environ[PDK_DIR_ENV]), PDK_DIR_ENV
    else:
        chosen, source = default_pdk_dir(), "the default next to the checkout"
    chosen = chosen.expanduser().resolve()
    if not chosen.is_dir():
        raise PDKError(
            f"PDK directory {chosen} (from {source}) does not exist; "
            f"set {PDK_DIR_ENV} or pass --pdk-dir to a directory holding "
            f"nangate45_typ.lib.gz and {SRAM_MACRO_DIR}/"
        )
    return chosen


def file_sha256(path: Path) -> str:
    """Hexadecimal SHA-256 digest of the file at ``path``.

    Raises
    ------
    PDKError
        The file is missing or cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise PDKError(f"{path}: cannot read ({error.strerror or error})") from None
    return digest.hexdigest()


def cell_library_path(corner: str = "typ", pdk_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of the cell library of ``corner``, after checking its SHA-256.

    Parameters
    ----------
    corner
        One of :data:`CORNERS`.
    pdk_dir
        As for :func:`resolve_pdk_dir`.

    Returns
    -------
    Path
        ``<pdk dir>/nangate45_<corner>.lib.gz``.

    Raises
    ------
    ValueError
        ``corner`` is not one of :data:`CORNERS`.
    PDKError
        The directory or the file is missing, or the file's digest is not the
        known one (the message gives both digests, truncated).
    """
    if corner not in CORNERS:
        raise ValueError(f"unknown corner {corner!r}; known: {', '.join(CORNERS)}")
    path = resolve_pdk_dir(pdk_dir) / _cell_library_name(corner)
    if not path.is_file():
        raise PDKError(f"{path}: cell library ({corner} corner) is missing")
    expected = CELL_LIBRARY_SHA256[path.name]
    actual = file_sha256(path)
    if actual != expected:
        raise PDKError(
            f"{path}: sha256 mismatch, expected {expected[:16]}..., got {actual[:16]}... "
            f"(corrupt or a different release of the file)"
        )
    return path


def available_corners(pdk_dir: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """Corners whose cell library is present in the PDK directory, each checked.

    Raises
    ------
    PDKError
        The directory is missing, or a present library fails its digest check.
    """
    root = resolve_pdk_dir(pdk_dir)
    present = tuple(corner for corner in CORNERS if (root / _cell_library_name(corner)).is_file())
    for corner in present:
        cell_library_path(corner, root)
    return present


def sram_library_paths(pdk_dir: str | os.PathLike[str] | None = None) -> tuple[Path, ...]:
    """Liberty files of all SRAM macros in ``<pdk dir>/fakeram45``, sorted by file name.

    Every name in :data:`SRAM_MACRO_NAMES` must be present; any further
    ``*.lib`` file there is returned too.

    Raises
    ------
    PDKError
        The directory or one of the known macro files is missing (the message
        names the first missing path).
    """
    folder = resolve_pdk_dir(pdk_dir) / SRAM_MACRO_DIR
    if not folder.is_dir():
        raise PDKError(f"{folder}: SRAM macro folder is missing")
    for name in SRAM_MACRO_NAMES:
        path = folder / f"{name}.lib"
        if not path.is_file():
            raise PDKError(f"{path}: SRAM macro model is missing")
    return tuple(sorted(folder.glob("*.lib")))
