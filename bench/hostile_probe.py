"""The hostile-input probe, rerun: bad files and arguments through the real command line, one process each.

Usage: python bench/hostile_probe.py [--jobs 2] [--timeout 60] [--out bench/results/hostile-probe.json]

Every case is a ``quidam`` command line given one bad input, in the probe's families: odd files and
encodings, YAML bombs and duplicate keys, huge and non-finite numbers, wrong types, huge grids, bad sweep and
space files, bad datasets and model cards, output folders under a regular file, bad option values, and paths
with shell and Tcl metacharacters. A case is run as its own process with a timeout and judged:

- ``refused``: exit 2, exactly one line on stderr, starting ``error:`` (a usage error may add a ``--help`` hint
  on the same line), nothing on stdout, no traceback: what every bad input must get;
- ``traceback``, ``hang`` (the timeout passed), ``accepted`` (exit 0 or 1 on a bad input), ``unclear`` (exit 2
  but not one clean line), and for the metacharacter paths, which may work or be refused, ``executed`` when a
  file the path's command would create appears.

The record (``--out``) holds the count of each verdict per family, every case that was not refused, and the
names of those that worked.
The tests of ``tests/test_hostile_inputs.py`` pin one case of each family in process; this is the
end-to-end rerun with many variants of each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUIDAM = [sys.executable, "-m", "quidam"]

INT_FIELDS = ("act_bits", "wt_bits", "psum_bits", "rows", "cols", "ifmap_spad_depth", "filter_spad_depth",
              "psum_spad_depth", "glb_kib", "glb_banks", "glb_word_bits", "dram_bytes_per_cycle")
BAD_INTS = ("7" * 5000, "1" + "0" * 30, "-1", "0", "2.5", "abc", "true", "[1]", "{a: 1}", ".nan", "1e400", "''")
BAD_CLOCKS = (".nan", ".inf", "-.inf", "1e400", "0", "-5", "fast", "[200]", "1" * 4000)
BAD_PE_TYPES = ("int9", "5", "true", "''", "[int16]", "{a: 1}", "INT16", "null")


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def config_contents() -> dict[str, bytes]:
    """Configuration files that are bad by construction, by family/name."""
    contents: dict[str, bytes] = {}
    for field in INT_FIELDS:
        for index, value in enumerate(BAD_INTS):
            if field in ("act_bits", "wt_bits") and value in ("-1", "0"):
                value = "99"  # out of range for pe_type int; -1 and 0 would be out of range as well
            other = {"act_bits": "wt_bits", "wt_bits": "act_bits"}.get(field)
            prefix = f"pe_type: int\n{other}: 8\n" if other else ""   # the operand widths are of pe_type int
            contents[f"values/{field}-{index}"] = f"{prefix}{field}: {value}\n".encode()
    for index, value in enumerate(BAD_CLOCKS):
        contents[f"values/clock_mhz-{index}"] = f"clock_mhz: {value}\n".encode()
    for index, value in enumerate(BAD_PE_TYPES):
        contents[f"values/pe_type-{index}"] = f"pe_type: {value}\n".encode()
    for field in (*INT_FIELDS[3:], "clock_mhz", "pe_type"):
        value = "int16" if field == "pe_type" else "64" if field == "glb_word_bits" else "200" if field == "clock_mhz" \
            else "4"
        contents[f"duplicate keys/{field}"] = f"{field}: {value}\n{field}: {value}\n".encode()
    contents.update({
        "structure/unknown field": b"rowz: 4\n",
        "structure/top-level list": b"- rows: 4\n",
        "structure/scalar": b"int16\n",
        "structure/syntax: unclosed bracket": b"rows: [4\n",
        "structure/syntax: tab indent": b"rows:\n\t- 4\n",
        "structure/syntax: bad mapping": b"rows: 4: 5\n",
        "combination/glb does not split": b"glb_kib: 100\nglb_banks: 27\n",
        "combination/psum narrower than product": b"pe_type: int\nact_bits: 16\nwt_bits: 16\npsum_bits: 16\n",
        "combination/fp32 psum_bits": b"pe_type: fp32\npsum_bits: 24\n",
        "combination/act_bits with int16": b"pe_type: int16\nact_bits: 8\n",
    })
    for depth in (33, 100, 500, 5000):
        contents[f"nesting/list {depth}"] = b"[" * depth + b"]" * depth + b"\n"
        contents[f"nesting/mapping {depth}"] = ("{a: " * depth + "1" + "}" * depth + "\n").encode()
    for levels in (3, 6, 9, 12):
        contents[f"aliases/billion laughs {levels}"] = _bomb(levels).encode()
    contents["aliases/one alias"] = b"base: &b 4\nrows: *b\n"
    contents["aliases/merge key"] = b"x: &x {rows: 4}\n<<: *x\n"
    contents.update({
        "encodings/latin-1": "pe_type: int16 # caf\u00e9\n".encode("latin-1"),
        "encodings/cp1252 quotes": "pe_type: \u201cint16\u201d\n".encode("cp1252"),
        "encodings/utf-16 BOM": "rows: 4\n".encode("utf-16"),
        "encodings/utf-16-le": "rows: 4\n".encode("utf-16-le"),
        "encodings/utf-32": "rows: 4\n".encode("utf-32"),
        "encodings/shift_jis": "pe_type: int16 # \u65e5\u672c\n".encode("shift_jis"),
        "encodings/NUL byte": b"rows: 4\x00\n",
        "encodings/lone surrogate escape": b"rows: 4 # \xed\xa0\x80\n",
    })
    rng = random.Random(2026)
    for index in range(6):
        contents[f"encodings/random bytes {index}"] = bytes(rng.randrange(256) for _ in range(rng.randrange(8, 4096)))
    contents["size/1 MiB + 1"] = b"#" * (1 << 20) + b"\n"
    contents["size/8 MiB of values"] = b"rows: [" + b"4, " * (1 << 21) + b"4]\n"
    contents.update({
        "tags/python object": b"rows: !!python/object/apply:os.system [touch PWNED]\n",
        "tags/python name": b"rows: !!python/name:os.system\n",
        "tags/binary": b"rows: !!binary aGVsbG8=\n",
        "tags/set": b"rows: !!set {4, 8}\n",
        "tags/timestamp": b"rows: 2020-01-01\n",
        "tags/bad timestamp": b"rows: 2020-13-45\n",
        "tags/omap": b"rows: !!omap [{a: 1}]\n",
        "tags/custom": b"rows: !quidam 4\n",
    })
    return contents


def sweep_contents() -> dict[str, bytes]:
    grid = "grid: {rows: [2, 4]}\n"
    contents = {
        "sweep/empty": b"",
        "sweep/no grid": b"base: {rows: 4}\n",
        "sweep/empty grid": b"grid: {}\n",
        "sweep/empty grid list": b"grid: []\n",
        "sweep/grid value not a list": b"grid: {rows: 4}\n",
        "sweep/empty value list": b"grid: {rows: []}\n",
        "sweep/unknown grid field": b"grid: {rowz: [2]}\n",
        "sweep/unknown key": ("grids: {rows: [2]}\n").encode(),
        "sweep/pe_type in the grid": b"grid: {pe_type: [int16, fp32]}\n",
        "sweep/base contradicts --pe": ("base: {pe_type: fp32}\n" + grid).encode(),
        "sweep/huge integer in a grid": ("grid: {rows: [" + "9" * 5000 + "]}\n").encode(),
        "sweep/nan in a grid": b"grid: {clock_mhz: [.nan]}\n",
        "sweep/inf in base": ("base: {clock_mhz: .inf}\n" + grid).encode(),
        "sweep/10^8 combinations": ("grid: {" + ", ".join(f"{f}: [{', '.join(str(v) for v in range(2, 12))}]"
                                                         for f in ("rows", "cols", "ifmap_spad_depth",
                                                                   "psum_spad_depth", "glb_banks", "glb_kib",
                                                                   "dram_bytes_per_cycle", "filter_spad_depth"))
                                    + "}\n").encode(),
        "sweep/10^4 repeated grids": ("grid:\n" + "  - {rows: [2, 3]}\n" * 10_000).encode(),
        "sweep/repeated values": ("grid: {rows: [" + ", ".join(["4"] * 200_000) + "]}\n").encode(),
        "sweep/dataset path": ("dataset: ../../etc/x\n" + grid).encode(),
        "sweep/dataset not a string": ("dataset: [a]\n" + grid).encode(),
        "sweep/description not a string": ("description: {a: 1}\n" + grid).encode(),
        "sweep/no valid combination": b"grid: {glb_kib: [100], glb_banks: [27]}\n",
        "sweep/duplicate key": ("grid: {rows: [2]}\n" + grid).encode(),
        "sweep/billion laughs": _bomb(10).encode(),
        "sweep/latin-1": ("# caf\u00e9\n" + grid).encode("latin-1"),
    }
    return contents


def space_contents() -> dict[str, bytes]:
    grid = "grid: {rows: [4, 8]}\n"
    contents = {f"space/pe_types {value}": f"pe_types: {value}\n{grid}".encode()
                for value in ("5", "true", "[]", "[int9]", "int16", "{a: 1}", "[int16, int16x]", "null")}
    contents.update({
        "space/empty": b"",
        "space/no grid": b"pe_types: [int16]\n",
        "space/empty grid": b"grid: {}\n",
        "space/unknown grid field": b"grid: {rowz: [4]}\n",
        "space/pe_type in the grid": b"grid: {pe_type: [int16]}\n",
        "space/grid value not a list": b"grid: {rows: 4}\n",
        "space/huge integer": ("grid: {rows: [" + "9" * 5000 + "]}\n").encode(),
        "space/nan clock": b"grid: {clock_mhz: [.nan]}\n",
        "space/10^8 points": ("grid: {" + ", ".join(f"{f}: [{', '.join(str(v) for v in range(4, 14))}]"
                                                   for f in ("rows", "cols", "ifmap_spad_depth", "psum_spad_depth",
                                                             "glb_banks", "dram_bytes_per_cycle", "glb_kib",
                                                             "filter_spad_depth")) + "}\n").encode(),
        "space/10^4 repeated grids": ("grid:\n" + "  - {rows: [4, 8]}\n" * 10_000).encode(),
        "space/repeated values": ("grid: {rows: [" + ", ".join(["4"] * 200_000) + "]}\n").encode(),
        "space/syntax error": b"grid: {rows: [4, 8}\n",
        "space/duplicate key": ("grid: {rows: [4]}\n" + grid).encode(),
        "space/billion laughs": _bomb(10).encode(),
        "space/utf-16": grid.encode("utf-16"),
    })
    return contents


class Probe:
    """Builds the cases in a scratch folder and runs them."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.cases: list[dict] = []
        self.regular = scratch / "a-regular-file"
        self.regular.write_text("not a folder\n")

    def file(self, name: str, content: bytes) -> Path:
        path = self.scratch / "files" / (name.replace("/", "__").replace(" ", "_") + ".yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    def add(self, family: str, name: str, args: list[str], *, may_work: bool = False, marker: Path | None = None):
        self.cases.append({"family": family, "name": name, "args": [str(arg) for arg in args],
                           "may_work": may_work, "marker": str(marker) if marker else None})

    def out(self, label: str) -> Path:
        return self.scratch / "out" / label

    def build(self) -> None:
        readers = {
            "config validate": lambda f: ["config", "validate", f],
            "predict": lambda f: ["predict", "--config", f],
            "generate": lambda f: ["generate", "--config", f, "--out", self.out("generate")],
            "simulate": lambda f: ["simulate", "--config", f, "--layer", "resnet20:9"],
            "export": lambda f: ["export", "--to", "zigzag", "--config", f, "--out", self.out("export")],
        }
        rotating = ("generate", "simulate", "export")
        for index, (name, content) in enumerate(sorted(config_contents().items())):
            path = self.file(name, content)
            family = "config file: " + name.split("/")[0]
            for command in ("config validate", "predict", rotating[index % 3]):
                self.add(family, f"{name} ({command})", readers[command](path))
        # Not hostile: a configuration that sets nothing is every field's default (tests/test_config.py); the
        # probe checks that it is read, not refused.
        for name, content in (("empty", b""), ("comments only", b"# nothing\n"), ("null", b"null\n")):
            self.add("config file: all defaults", name, ["config", "validate", self.file(name, content)],
                     may_work=True)
        fifo = self.scratch / "a-fifo.yaml"
        os.mkfifo(fifo)
        loop = self.scratch / "a-loop.yaml"
        loop.symlink_to(loop)
        odd = {"/dev/zero": "/dev/zero", "/dev/urandom": "/dev/urandom", "a FIFO": fifo, "a folder": self.scratch,
               "a missing file": self.scratch / "missing.yaml", "a symlink loop": loop}
        for name, path in odd.items():
            for command, reader in readers.items():
                self.add("odd files", f"{name} ({command})", reader(path))
            self.add("odd files", f"{name} (sweep)", ["characterize", "--pe", "int16", "--sweep", path,
                                                       "--runs", self.out("runs")])
            self.add("odd files", f"{name} (space)", ["explore", "--workload", "resnet20", "--space", path,
                                                       "--out", self.out("explore")])
        for name, content in sorted(sweep_contents().items()):
            self.add("sweep file", name, ["characterize", "--pe", "int16", "--sweep", self.file(name, content),
                                          "--runs", self.out("runs"), "--data", self.out("data"), "--no-progress"])
        for name, content in sorted(space_contents().items()):
            self.add("space file", name, ["explore", "--workload", "resnet20", "--space", self.file(name, content),
                                          "--out", self.out("explore")])
        self._arguments()
        self._outputs()
        self._stored_data()
        self._metacharacters()

    def _arguments(self) -> None:
        config = REPO / "configs" / "eyeriss.yaml"
        numbers = ("nan", "inf", "-inf", "-1", "1e400", "abc", "", "9" * 5000, "0x10")
        options = {
            "characterize-mac --seed": (["characterize-mac", "--pe", "int16", "--runs", self.out("mac")], "--seed"),
            "characterize-mac --ops": (["characterize-mac", "--pe", "int16", "--runs", self.out("mac")], "--ops"),
            "characterize-mac --clock-mhz": (["characterize-mac", "--pe", "int16", "--runs", self.out("mac")],
                                             "--clock-mhz"),
            "characterize --jobs": (["characterize", "--pe", "int16", "--runs", self.out("runs")], "--jobs"),
            "characterize --worker-timeout": (["characterize", "--pe", "int16", "--runs", self.out("runs")],
                                              "--worker-timeout"),
            "explore --dram-pj-per-bit": (["explore", "--workload", "resnet20", "--out", self.out("explore")],
                                          "--dram-pj-per-bit"),
            "export --dram-pj-per-bit": (["export", "--to", "zigzag", "--config", config, "--out",
                                          self.out("export")], "--dram-pj-per-bit"),
            "simulate --channels-scale": (["simulate", "--config", config, "--layer", "resnet20:9"],
                                          "--channels-scale"),
            "simulate --seed": (["simulate", "--config", config, "--layer", "resnet20:9"], "--seed"),
            "generate --act-bits": (["generate", "--pe", "int", "--wt-bits", "8", "--out", self.out("generate")],
                                    "--act-bits"),
            "generate --psum-bits": (["generate", "--pe", "int16", "--out", self.out("generate")], "--psum-bits"),
        }
        for label, (args, option) in options.items():
            for value in numbers:
                self.add("option values", f"{label} {value[:12]!r}", [*args, option, value])
        for value in ("10" + "0" * 12, "1000001", "1"):
            self.add("option values", f"characterize-mac --ops {value[:8]}",
                     ["characterize-mac", "--pe", "int16", "--ops", value, "--runs", self.out("mac")])
        words = {
            "--pe": (["characterize", "--runs", self.out("runs"), "--pe"], ("int9", "", "INT16", "fp32,int16")),
            "--layer": (["simulate", "--config", config, "--layer"],
                        ("resnet20:99", "nosuch:1", "resnet20:-1", "resnet20:1e3", ":", "resnet20", "resnet20:x",
                         "resnet20:" + "9" * 5000)),
            "--workload": (["explore", "--out", self.out("explore"), "--workload"], ("nosuch", "", "../x")),
            "--dataset": (["explore", "--workload", "resnet20", "--out", self.out("explore"), "--dataset"],
                          ("imagenet2", "", "cifar10x")),
            "--explore --pe": (["explore", "--workload", "resnet20", "--out", self.out("explore"), "--pe"],
                               ("int9", ",", "int16,,fp32", "all,int16")),
            "--sim": (["simulate", "--config", config, "--layer", "resnet20:9", "--sim"], ("vcs", "")),
            "--memory": (["generate", "--config", config, "--out", self.out("generate"), "--memory"], ("sram", "")),
            "--to": (["export", "--out", self.out("export"), "--to"], ("timeloop", "")),
            "--sweep": (["characterize", "--pe", "int16", "--runs", self.out("runs"), "--sweep"],
                        ("nosuch", "defaultx")),
            "--yosys": (["characterize-mac", "--pe", "int16", "--runs", self.out("mac"), "--yosys"],
                        ("/nonexistent/yosys", "false", str(self.regular))),
        }
        for option, (args, values) in words.items():
            for value in values:
                self.add("option values", f"{option} {value[:16]!r}", [*args, value])
        usage = [["nosuch"], ["characterize"], ["simulate", "--config", config], ["explore", "--bogus"],
                 ["predict"], ["generate"], ["export", "--to", "zigzag"], ["fit", "--pe"], ["config", "nosuch"],
                 ["workloads", "show", "nosuch"], ["export", "--to", "zigzag", "--out", self.out("export")],
                 ["predict", "--config", config, "extra"], ["simulate", "--config", config, "--layer",
                                                             "resnet20:9", "--tensors", self.regular]]
        for args in usage:
            self.add("usage", " ".join(str(a) for a in args)[:60], args)

    def _outputs(self) -> None:
        under = self.regular / "sub"
        config = REPO / "configs" / "eyeriss.yaml"
        cases = {
            "generate --out": ["generate", "--config", config, "--out", under],
            "generate --out (mac)": ["generate", "--pe", "int16", "--out", under],
            "simulate --dump": ["simulate", "--config", config, "--layer", "resnet20:9", "--dump", under],
            "simulate --build": ["simulate", "--config", config, "--layer", "resnet20:9", "--build", under],
            "explore --out": ["explore", "--workload", "resnet20", "--out", under],
            "characterize-mac --runs": ["characterize-mac", "--pe", "int16", "--runs", under],
            "characterize --runs": ["characterize", "--pe", "int16", "--runs", under],
            "characterize --data": ["characterize", "--pe", "int16", "--runs", self.out("runs"), "--data", under],
            "fit --models": ["fit", "--models", under, "--report", self.out("fit-report")],
            "fit --report": ["fit", "--models", self.out("fit-models"), "--report", under],
            "report --out": ["report", "--out", under / "quidam.html"],
            "export --out (zigzag)": ["export", "--to", "zigzag", "--config", config, "--out", under],
            "export --out (accelergy)": ["export", "--to", "accelergy", "--out", under],
            "accuracy-tensors --out": ["accuracy-tensors", "--network", "resnet8", "--out", under / "t.npz"],
        }
        for name, args in cases.items():
            self.add("output under a regular file", name, args)

    def _stored_data(self) -> None:
        cards = REPO / "models" / "cards"
        card = json.loads((cards / "int16.json").read_text())
        config = REPO / "configs" / "eyeriss.yaml"

        def card_folder(name: str, text: str | bytes) -> Path:
            folder = self.scratch / "cards" / name.replace(" ", "_")
            folder.mkdir(parents=True)
            for other in cards.glob("*.json"):
                shutil.copy(other, folder / other.name)
            data = text.encode() if isinstance(text, str) else text
            (folder / "int16.json").write_bytes(data)
            return folder

        def poisoned(value: str) -> str:
            text = json.dumps(card)
            index = text.index('"coef')
            start = text.index("[", index) + 1
            end = min(text.index(",", start), text.index("]", start))
            return text[:start] + value + text[end:]

        variants = {
            "NaN coefficient": poisoned("NaN"), "Infinity coefficient": poisoned("Infinity"),
            "huge coefficient": poisoned("1e400"), "string coefficient": poisoned('"x"'),
            "truncated": json.dumps(card)[:500], "empty object": "{}", "a list": "[]", "empty file": "",
            "binary": b"\x00\x01\x02" * 100, "utf-16": json.dumps(card).encode("utf-16"),
            "wrong pe_type": json.dumps({**card, "pe_type": "fp32"}),
            "deep": "[" * 5000 + "]" * 5000,
        }
        for name, text in variants.items():
            folder = card_folder(name, text)
            self.add("model card", f"{name} (predict)", ["predict", "--config", config, "--models", folder])
            self.add("model card", f"{name} (explore)", ["explore", "--workload", "resnet20", "--pe", "int16",
                                                        "--models", folder, "--out", self.out("explore")])
        header = (REPO / "data" / "characterization" / "int16.csv").read_text().splitlines()
        datasets = {
            "binary": b"\x00\xff" * 1000,
            "header only": (header[0] + "\n").encode(),
            "NaN area": "\n".join([header[0], *(_nan_first_metric(header[0], row) for row in header[1:])]).encode(),
            "missing column": "\n".join(",".join(line.split(",")[:-1]) for line in header).encode(),
            "truncated row": "\n".join([*header, header[-1][:40]]).encode(),
            "latin-1": ("\n".join(header) + "\n# caf\u00e9\n").encode("latin-1"),
            "text in a number": "\n".join([header[0], *(row.replace(",200.0,", ",fast,", 1) for row in header[1:])])
            .encode(),
        }
        for name, content in datasets.items():
            folder = self.scratch / "data" / name.replace(" ", "_")
            folder.mkdir(parents=True)
            (folder / "int16.csv").write_bytes(content)
            self.add("dataset", name, ["fit", "--pe", "int16", "--data", folder, "--models", self.out(f"fit-{name}"),
                                       "--report", self.out(f"fit-report-{name}")])

    def _metacharacters(self) -> None:
        pdk = REPO.parent / "shared" / "pdk" / "nangate45"
        for name in ("r[exec touch {m}]", "r$(touch {m})", "r`touch {m}`", "r;touch {m}", "r\"]; exec touch {m}; #",
                     "r with space", "r'quote", "r{{brace}}", "r$HOME", "r\\back"):
            marker = self.scratch / f"PWNED-{len(self.cases)}"
            runs = self.scratch / "meta" / name.format(m=marker)
            self.add("metacharacters", f"--runs {name[:20]}", ["characterize-mac", "--pe", "int", "--act-bits", "2",
                                                               "--wt-bits", "2", "--ops", "2", "--runs", runs],
                     may_work=True, marker=marker)
            marker = self.scratch / f"PWNED-{len(self.cases)}"
            copy = self.scratch / "meta-pdk" / name.format(m=marker)
            if not copy.exists() and pdk.is_dir():
                shutil.copytree(pdk, copy)   # a copy, not a link: a link would resolve to the clean path
            self.add("metacharacters", f"--pdk-dir {name[:20]}",
                     ["characterize-mac", "--pe", "int", "--act-bits", "2", "--wt-bits", "2", "--ops", "2",
                      "--pdk-dir", copy, "--runs", self.scratch / "meta-runs"], may_work=True, marker=marker)


def _nan_first_metric(header: str, row: str) -> str:
    names, values = header.split(","), row.split(",")
    values[names.index("synth__area__total_um2")] = "nan"
    return ",".join(values)


def judge(case: dict, code: int | None, out: str, err: str) -> str:
    if case["marker"] and Path(case["marker"]).exists():
        return "executed"
    if code is None:
        return "hang"
    if "Traceback" in err or "Traceback" in out:
        return "traceback"
    lines = err.strip().splitlines()
    if code == 2:
        return "refused" if len(lines) == 1 and lines[0].startswith("error:") and not out.strip() else "unclear"
    if case["may_work"] and code in (0, 1):
        return "worked"
    return "accepted"


def run_case(case: dict, timeout: float, cwd: Path) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen([*QUIDAM, *case["args"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, cwd=cwd, text=True, errors="replace",
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the command's workers and tools too
        out, err = process.communicate()
        code = None
    verdict = judge(case, code, out, err)
    return {**case, "verdict": verdict, "exit": code, "seconds": round(time.perf_counter() - started, 2),
            "stderr": err.strip().splitlines()[-3:] if verdict not in ("refused", "worked") else err.strip()[:300]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--family", default=None, help="Run only the families whose name contains this.")
    parser.add_argument("--out", default="bench/results/hostile-probe.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quidam-probe-") as folder:
        scratch = Path(folder)
        probe = Probe(scratch)
        probe.build()
        cases = [case for case in probe.cases if args.family is None or args.family in case["family"]]
        print(f"{len(cases)} cases in {len({case['family'] for case in cases})} families", flush=True)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda case: run_case(case, args.timeout, scratch), cases))
        elapsed = time.perf_counter() - started
    families: dict[str, Counter] = defaultdict(Counter)
    for result in results:
        families[result["family"]][result["verdict"]] += 1
    totals = Counter(result["verdict"] for result in results)
    record = {
        "command": "python bench/hostile_probe.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.node()}, {os.cpu_count()} cores", "python": platform.python_version(),
        "cases": len(results), "seconds": round(elapsed, 1), "timeout_s": args.timeout,
        "verdicts": dict(totals), "families": {name: dict(counts) for name, counts in sorted(families.items())},
        "not_refused": [{key: result[key] for key in ("family", "name", "verdict", "exit", "seconds", "stderr")}
                        for result in results if result["verdict"] not in ("refused", "worked")],
        "worked": [f"{result['family']}: {result['name']} (exit {result['exit']})"
                   for result in results if result["verdict"] == "worked"],
    }
    for name, counts in sorted(families.items()):
        print(f"  {name:34s} " + ", ".join(f"{verdict} {count}" for verdict, count in sorted(counts.items())))
    print(f"{len(results)} cases in {elapsed:.0f} s: " + ", ".join(f"{v} {c}" for v, c in sorted(totals.items())))
    for result in record["not_refused"]:
        print(f"  {result['verdict']}: {result['family']}: {result['name']} (exit {result['exit']}): "
              f"{' | '.join(result['stderr'])[:200]}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
