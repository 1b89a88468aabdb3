"""The ``vistransfer`` command: wires the command modules; known errors become one line, exit 2."""

from __future__ import annotations

import os
import signal
import sys

import typer

from ..errors import VistransferError
from .distill import distill
from .experiment import experiment, summarize
from .export import export
from .learn import evaluate, learn
from .run import run
from .show import show
from .study import app as study_app
from .synthesize import synthesize
from .teach import teach

# rich_markup_mode=None: help texts are plain, so "[synthesis]" is printed, not eaten as markup.
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Interpretation-based indirect knowledge transfer: teacher -> visualizations -> student.",
)
for _cmd in (teach, synthesize, learn, distill, evaluate, show, export, run, experiment, summarize):
    app.command()(_cmd)
app.add_typer(study_app, name="study")


def _warnings_as_lines() -> None:
    """Our own warnings (a slow acceptance rate, ...) print as one 'warning: ...' line."""
    import logging

    log = logging.getLogger("vistransfer")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        log.addHandler(handler)
        log.propagate = False


def _exit_on_sigterm() -> None:
    """SIGTERM (``kill``, a job scheduler, the end of a session) unwinds like Ctrl-C: every ``finally``
    runs, so an artifact being written is removed as a temporary, never left half-written beside the
    results. Exit status 143 (128 + 15), as the default handler's."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> None:
    _warnings_as_lines()
    _exit_on_sigterm()
    try:
        app(args=argv, standalone_mode=True)
    except VistransferError as e:
        if os.environ.get("VISTRANSFER_DEBUG"):
            raise
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
