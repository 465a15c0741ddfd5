"""``quidam --version`` and ``--help`` start in well under a second: no stage imported until its command runs."""

import resource
import subprocess
import sys

import click
import pytest

from quidam.cli import STAGE_COMMANDS, cli, main

HEAVY = ("sklearn", "amaranth", "dask", "distributed", "matplotlib", "numpy", "quidam.characterize", "quidam.models")


def test_importing_the_cli_loads_no_stage_and_no_heavy_library():
    code = ("import sys, quidam.cli; heavy = " + repr(HEAVY) +
            "; print(' '.join(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(heavy)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_answer_in_well_under_a_second(args):
    """Measured in CPU seconds of the child (user + system), which a loaded machine does not inflate."""
    subprocess.run([sys.executable, "-m", "quidam", *args], capture_output=True, check=True)  # warm the caches
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "quidam", *args], capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 0.5, f"quidam {' '.join(args)} took {cpu:.2f} CPU seconds"
    assert done.stdout.strip()


def test_help_lists_every_stage_command_with_its_own_summary():
    listing = subprocess.run([sys.executable, "-m", "quidam", "--help"], capture_output=True, text=True,
                             check=True).stdout
    for name in STAGE_COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        summary = command.get_short_help_str(45).removesuffix("...").rstrip(".,")
        line = next(line for line in listing.splitlines() if line.strip().startswith(name + " "))
        assert summary[:30] in line, (name, summary, line)


@pytest.mark.parametrize("args, hint", [
    (["bogus"], "see `quidam --help`"),
    (["characterize", "--pe"], "see `quidam characterize --help`"),
    (["config", "validate"], "see `quidam config validate --help`"),
    (["explore", "--workload", "vgg16", "--dram-pj-per-bit", "nan"], "is not a finite number"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, args, hint):
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("error: ") and hint in line
    assert captured.out == ""
