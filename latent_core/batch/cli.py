"""``python -m latent_core.batch <command>``: the batch pipeline's command line.

Each command is a module of this package with ``register(subparsers)``, which adds its parser with
``set_defaults(run=<function(args) -> int>)``. :data:`COMMANDS` lists them in help order; a module that does not
exist (yet) is skipped. A :class:`~latent_core.errors.LatentCoreError` ends the run with its message on one line
and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from latent_core.errors import LatentCoreError

COMMANDS = ("encode", "passages", "fit_translator", "translate", "project", "evaluate")
USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m latent_core.batch",
                                     description="Move a vector store to a new embedding model on Ray + LanceDB.")
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"latent_core.batch.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"latent_core.batch.{name}":
                continue  # not written yet: the other commands still work
            raise
        module.register(subparsers)
    return parser


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LatentCoreError as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
