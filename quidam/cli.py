"""The ``quidam`` command line: one entry point, one subcommand per pipeline stage.

Each stage's commands live beside the code they drive and are listed in
:data:`STAGE_COMMANDS`; a stage's module is imported only when its command
runs, so ``quidam --version`` and ``quidam --help`` start without
scikit-learn, Amaranth or Dask (``--help`` reads each command's summary from
its module's source).

Exit statuses mean one thing each: 0 done, 1 a design point or a check
failed, 2 bad input (a usage error, a :class:`~quidam.errors.QuidamError`) or
a broken environment; 130 interrupted. Every error is one line on standard
error, never a traceback.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

import click

from . import __version__
from .config import FIELDS, load_config
from .errors import QuidamError

__all__ = ["STAGE_COMMANDS", "cli", "main"]

#: Command name -> (module, attribute) of every stage command, imported when it runs.
STAGE_COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("quidam.rtl_gen.cli", "generate"),
    "pdk": ("quidam.pdk.cli", "pdk"),
    "workloads": ("quidam.workloads.cli", "workloads"),
    "characterize": ("quidam.characterize.cli", "characterize"),
    "characterize-mac": ("quidam.characterize.cli", "characterize_mac"),
    "characterize-blocks": ("quidam.characterize.cli", "characterize_blocks"),
    "simulate": ("quidam.testbenches.cli", "simulate"),
    "fit": ("quidam.models.cli", "fit"),
    "predict": ("quidam.models.cli", "predict_command"),
    "export": ("quidam.models.cli", "export_command"),
    "explore": ("quidam.dse.cli", "explore_command"),
    "report": ("quidam.dse.cli", "report_command"),
    "accuracy": ("quidam.accuracy.cli", "accuracy_command"),
    "coexplore": ("quidam.accuracy.cli", "coexplore_command"),
    "accuracy-tensors": ("quidam.accuracy.cli", "tensors_command"),
}


def _source_docstring(module: str, attribute: str) -> str:
    """The docstring of function ``attribute`` in ``module``'s source file, read without importing it."""
    package, _, name = module.rpartition(".")
    spec = importlib.util.find_spec(package)  # imports quidam only, not the stage package
    path = Path(next(iter(spec.submodule_search_locations))) / f"{name}.py"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return ast.get_docstring(node) or ""
    return ""


class _StageGroup(click.Group):
    """A group whose stage commands (:data:`STAGE_COMMANDS`) are imported on first use."""

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *STAGE_COMMANDS})

    def get_command(self, ctx, name):
        if name in STAGE_COMMANDS and name not in self.commands:
            module, attribute = STAGE_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                doc = _source_docstring(*STAGE_COMMANDS[name])
                rows.append((name, click.utils.make_default_short_help(doc.split("\n\n")[0], limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_StageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quidam")
def cli():
    """quidam: quantization-aware DNN accelerator generator and PPA characterization."""


@cli.group()
def config():
    """Validate and inspect accelerator configurations (YAML)."""


@config.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def config_validate(file):
    """Check FILE; exit 0 when valid, 2 with a one-line reason when not."""
    cfg = load_config(file)
    click.echo(f"{file}: valid ({cfg.pe_type}, {cfg.rows}x{cfg.cols} PEs, config hash {cfg.config_hash[:12]})")


@config.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def config_show(file):
    """Print FILE resolved, with every default filled in, as YAML."""
    click.echo(load_config(file).to_yaml(), nl=False)


@config.command("fields")
def config_fields():
    """Print every configuration field, its default, allowed values and meaning (a Markdown table)."""
    click.echo("| field | default | allowed | meaning |\n|---|---|---|---|")
    for rule in FIELDS:
        default = "from pe_type" if rule.default is None else rule.default
        click.echo(f"| `{rule.name}` | {default} | {rule.allowed()} | {rule.doc} |")


def _usage_line(error: click.UsageError, argv: list[str]) -> str:
    """A usage error as one line, with the ``--help`` of the (sub)command it is about as the hint."""
    path, command = ["quidam"], cli
    for word in argv:
        if not isinstance(command, click.Group) or word not in command.list_commands(None):
            break
        path.append(word)
        command = command.get_command(None, word)
    message = " ".join(error.format_message().split()).rstrip(".")
    return f"error: {message}; see `{' '.join(path)} --help`"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI; a usage error or a :class:`QuidamError` is one line and exit status 2."""
    try:
        # Without standalone mode, click returns a command's click.exceptions.Exit status instead of exiting.
        status = cli.main(args=argv, prog_name="quidam", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as error:
        click.echo(_usage_line(error, sys.argv[1:] if argv is None else argv), err=True)
        sys.exit(2)
    except click.ClickException as error:
        click.echo(f"error: {' '.join(error.format_message().split())}", err=True)
        sys.exit(2)
    except QuidamError as error:
        click.echo(f"error: {' '.join(str(error).split())}", err=True)
        sys.exit(2)
    except OSError as error:  # a path the command could not read or write (a file where a folder must be, ...)
        where = f"{error.filename}: " if error.filename is not None else ""
        click.echo(f"error: {where}{error.strerror or error}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    if isinstance(status, int) and status:
        sys.exit(status)
