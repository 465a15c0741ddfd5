"""The ``quidam`` command line: one entry point, one subcommand per pipeline stage.

Each stage's commands live beside the code they drive and are attached here.
Any :class:`~quidam.errors.QuidamError` becomes one line on standard error and
exit status 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .config import FIELDS, load_config
from .errors import QuidamError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


def _attach_stage_commands():
    # Imported here so that each stage owns its commands.
    from quidam.characterize.cli import characterize, characterize_mac
    from quidam.dse.cli import explore_command, report_command
    from quidam.models.cli import fit, predict_command
    from quidam.pdk.cli import pdk
    from quidam.rtl_gen.cli import generate
    from quidam.testbenches.cli import simulate
    from quidam.workloads.cli import workloads

    for command in (generate, pdk, workloads, characterize, characterize_mac, simulate, fit, predict_command,
                    explore_command, report_command):
        cli.add_command(command)


_attach_stage_commands()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning user errors into exit status 2."""
    try:
        # Without standalone mode, click returns a command's click.exceptions.Exit status instead of exiting.
        status = cli.main(args=argv, prog_name="quidam", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except QuidamError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    if isinstance(status, int) and status:
        sys.exit(status)
