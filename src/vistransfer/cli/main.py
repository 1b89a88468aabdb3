"""The ``vistransfer`` command: wires the command modules; known errors become one line, exit 2."""

from __future__ import annotations

import os
import sys

import typer

from ..errors import VistransferError
from .experiment import experiment, summarize
from .learn import evaluate, learn
from .run import run
from .show import show
from .synthesize import synthesize
from .teach import teach

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Interpretation-based indirect knowledge transfer: teacher -> visualizations -> student.")
for _cmd in (teach, synthesize, learn, evaluate, show, run, experiment, summarize):
    app.command()(_cmd)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=True)
    except VistransferError as e:
        if os.environ.get("VISTRANSFER_DEBUG"):
            raise
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
