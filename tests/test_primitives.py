"""The standard cells as user-defined primitives (``characterize/primitives.py``), against the cell modules
Yosys writes from the Liberty functions, both simulated by Icarus on every input of 0, 1 and x."""

import itertools
import random
import re
import subprocess

import pytest

from quidam.characterize.activity import simulation_model
from quidam.characterize.cells import cell_library
from quidam.characterize.primitives import cell_primitives, positional_instances
from quidam.characterize.synth import uncompressed_liberty
from quidam.characterize.tools import ToolFailure, yosys_tool
from quidam.errors import PDKError

try:
    from quidam.pdk.locate import cell_library_path

    LIBERTY_GZ = cell_library_path("typ")
except PDKError as missing:
    pytest.skip(f"no Nangate45 data: {missing}", allow_module_level=True)

#: A netlist as Yosys writes one: a cell of each kind the replays see (an inverting complex gate, a
#: multiplexer, an exclusive or, a flip-flop that stays a module), one pin on a bit of a bus.
NETLIST = """module top(clk, a, b, s, y, q);
  input clk;
  input [1:0] a;
  input b, s;
  output y, q;
  wire n1, n2;
  AOI21_X1 g1 (
    .A(a[0]),
    .B1(a[1]),
    .B2(b),
    .ZN(n1)
  );
  MUX2_X1 g2 (
    .A(n1),
    .B(b),
    .S(s),
    .Z(n2)
  );
  XOR2_X1 g3 (
    .A(n2),
    .B(a[1]),
    .Z(y)
  );
  DFF_X1 r (
    .CK(clk),
    .D(y),
    .Q(q)
  );
endmodule
"""


@pytest.fixture(scope="module")
def cell_models(tmp_path_factory):
    """Every function-bearing cell of the library as the module the simulation model gives it."""
    folder = tmp_path_factory.mktemp("cells")
    liberty = uncompressed_liberty(LIBERTY_GZ, folder / "_liberty")
    library = cell_library(liberty)
    cells = [name for name, cell in library.items() if cell.outputs]
    # One instance of each cell, so that the model writes every one.
    lines = ["module every(z);", f"  output [{len(cells) - 1}:0] z;"]
    lines += [f"  {name} c{index} (.{sorted(library[name].outputs)[0]}(z[{index}]));"
              for index, name in enumerate(cells)]
    (folder / "every.v").write_text("\n".join(lines) + "\nendmodule\n")
    model = simulation_model(yosys_tool(), folder=folder, netlist=folder / "every.v", liberty=liberty, macros=[],
                             top="every")
    return folder, liberty, library, model


def _modules(model):
    """Each module of a simulation model by name, its text."""
    return {match.group(1): match.group(0) for match in re.finditer(r"^module (\w+)\(.*?^endmodule\n", model,
                                                                     re.M | re.S)}


def _icarus(folder, name, text):
    (folder / f"{name}.v").write_text(text)
    subprocess.run(["iverilog", "-g2012", "-o", f"{name}.vvp", "-s", "tb", f"{name}.v"], cwd=folder, check=True,
                   capture_output=True, text=True)
    return subprocess.run(["vvp", "-n", f"{name}.vvp"], cwd=folder, check=True, capture_output=True,
                          text=True).stdout


def test_each_primitive_gives_what_its_cell_module_gives_on_every_input(cell_models):
    folder, _, library, model = cell_models
    modules = _modules(model)
    cells = "".join(text for name, text in modules.items() if name in library)
    primitives_text, primitives = cell_primitives(cells)
    assert {"INV_X1", "NAND2_X1", "AOI222_X1", "OAI33_X1", "MUX2_X1", "XNOR2_X1"} <= set(primitives)
    assert not any(library[name].sequential for name in primitives)
    # The modules renamed beside the primitives; each pair driven with every input of 0, 1 and x.
    renamed = re.sub(r"^module (\w+)\(", r"module m_\1(", cells, flags=re.M)
    lines = ["module tb;"]
    compared = 0
    for name, (output, *inputs) in primitives.items():
        width = len(inputs)
        lines += [f"  reg [{width - 1}:0] i_{name};", f"  wire p_{name}, m_{name};",
                  f"  {name} p{name}(p_{name}, {', '.join(f'i_{name}[{k}]' for k in range(width))});",
                  f"  m_{name} m{name}({', '.join(f'.{pin}(i_{name}[{k}])' for k, pin in enumerate(inputs))}, "
                  f".{output}(m_{name}));"]
    lines.append("  initial begin")
    for name, (_, *inputs) in primitives.items():
        for values in itertools.product("01x", repeat=len(inputs)):
            lines += [f"    i_{name} = {len(inputs)}'b{''.join(reversed(values))}; #1;",
                      f'    if (p_{name} !== m_{name}) $display("{name} {"".join(values)}: %b, the module %b", '
                      f"p_{name}, m_{name});"]
            compared += 1
    lines += ['    $display("done");', "  end", "endmodule"]
    output = _icarus(folder, "pairs", primitives_text + renamed + "\n".join(lines) + "\n")
    assert output.strip() == "done", output[:2000]
    assert compared > 1000


def test_a_flip_flop_with_one_register_gives_what_its_cell_module_gives(cell_models):
    folder, _, library, model = cell_models
    modules = _modules(model)
    sequential = {name: modules[name] for name in modules if name in library and library[name].sequential}
    merged, primitives = cell_primitives("".join(sequential.values()))
    assert not primitives and merged.count("module ") == len(sequential) >= 20
    # A duplicate register gone from the plain, reset and scan flip-flops and the latches; both kept where
    # the two outputs differ from a copy of each other (set and reset at once).
    for name in ("DFF_X1", "DFFR_X1", "SDFF_X1", "TLAT_X1"):
        assert merged.split(f"module {name}(")[1].split("endmodule")[0].count("reg ") == 1, name
    assert merged.split("module DFFRS_X1(")[1].split("endmodule")[0].count("reg ") == 2
    # Each against its original, renamed, on 400 steps of random 0, 1 and x on every input.
    rng = random.Random(7)
    lines = ["module tb;"]
    steps = ["  initial begin"]
    for name, text in sequential.items():
        ports = re.findall(r"^\s*(input|output) (\w+);", text, re.M)
        inputs = [port for direction, port in ports if direction == "input"]
        outputs = [port for direction, port in ports if direction == "output"]
        pins = [f".{port}(i_{name}[{k}])" for k, port in enumerate(inputs)]
        lines += [f"  reg [{len(inputs) - 1}:0] i_{name};",
                  *(f"  wire n_{name}_{port}, o_{name}_{port};" for port in outputs),
                  f"  {name} n{name}({', '.join(pins + [f'.{port}(n_{name}_{port})' for port in outputs])});",
                  f"  o_{name} o{name}({', '.join(pins + [f'.{port}(o_{name}_{port})' for port in outputs])});"]
    for step in range(400):
        for name, text in sequential.items():
            width = len(re.findall(r"^\s*input \w+;", text, re.M))
            value = "".join(rng.choice("01x" if step % 50 < 5 else "0011x") for _ in range(width))
            steps.append(f"    i_{name} = {width}'b{value};")
        steps.append("    #1;")
        for name, text in sequential.items():
            for output in re.findall(r"^\s*output (\w+);", text, re.M):
                steps.append(f'    if (n_{name}_{output} !== o_{name}_{output}) $display("{step} {name}.{output}: '
                             f'%b, the module %b", n_{name}_{output}, o_{name}_{output});')
    steps += ['    $display("done");', "  end"]
    originals = re.sub(r"^module (\w+)\(", r"module o_\1(", "".join(sequential.values()), flags=re.M)
    output = _icarus(folder, "flops", merged + originals + "\n".join(lines + steps) + "\nendmodule\n")
    assert output.strip() == "done", output[:2000]


def test_a_netlist_of_primitives_replays_the_values_of_its_modules(cell_models):
    folder, liberty, library, _ = cell_models
    (folder / "netlist.v").write_text(NETLIST)
    model = simulation_model(yosys_tool(), folder=folder, netlist=folder / "netlist.v", liberty=liberty, macros=[],
                             top="top")
    modules = _modules(model)
    cells = "".join(text for name, text in modules.items() if name in library)
    cells_text, primitives = cell_primitives(cells)
    design, nets = positional_instances(modules["top"], primitives)
    assert "DFF_X1" not in primitives and "module DFF_X1(" in cells_text
    assert nets["g1"] == {"A": "a[0]", "B1": "a[1]", "B2": "b", "ZN": "n1"}
    assert set(nets) == {"g1", "g2", "g3"}
    # The netlist of modules beside it, its cells renamed; each probe's net against the module port it stands
    # for, and the outputs, over every input for 64 cycles.
    kinds = {"g1": "AOI21_X1", "g2": "MUX2_X1", "g3": "XOR2_X1"}
    probes = [(f"{instance}.{pin}", net) for instance, kind in kinds.items()
              for pin, net in nets[instance].items() if pin in library[kind].activity_pins]
    renamed = re.sub(r"^(module |  )(\w+_X\d+)([ (])", r"\1m_\2\3", cells + modules["top"], flags=re.M)
    bench = ["module tb;", "  reg clk = 0; reg [1:0] a; reg b, s; wire y1, q1, y2, q2;",
             "  top p(.clk(clk), .a(a), .b(b), .s(s), .y(y1), .q(q1));",
             "  m_top m(.clk(clk), .a(a), .b(b), .s(s), .y(y2), .q(q2));", "  integer k;", "  initial begin",
             "    for (k = 0; k < 64; k = k + 1) begin", "      {a, b, s} = k; #1;",
             *(f'      if (p.{net} !== m.{port}) $display("%0d: {port} %b, its net {net} %b", k, m.{port}, p.{net});'
               for port, net in probes),
             '      if (y1 !== y2 || q1 !== q2) $display("%0d: the outputs differ", k);',
             "      clk = 1; #1 clk = 0;", "    end", '    $display("done");', "  end", "endmodule"]
    text = cells_text + design + renamed.replace("module top(", "module m_top(") + "\n".join(bench) + "\n"
    output = _icarus(folder, "netlist_tb", text)
    assert output.strip() == "done", output[:2000]
    assert len(probes) >= 3


def test_an_unconnected_pin_of_a_primitive_is_a_clear_failure():
    cells, primitives = cell_primitives("module INV_X1(A, ZN);\n  input A;\n  wire A;\n  output ZN;\n  wire ZN;\n"
                                        "  assign ZN = ~A;\nendmodule\n")
    assert primitives == {"INV_X1": ("ZN", "A")} and cells.startswith("primitive INV_X1(ZN, A);")
    with pytest.raises(ToolFailure, match="instance u1 of INV_X1 leaves a pin unconnected"):
        positional_instances("module t(a);\n  input a;\n  INV_X1 u1 (\n    .A(a)\n  );\nendmodule\n", primitives)
