"""Entry point of the ``abuse-detector`` console script."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from app import __version__
from app.errors import AbuseDetectorError

# Each module has ``register(subparsers)``, which adds its parser with ``func=run``.
COMMANDS = ("worker", "demo", "simulate", "replay", "evaluate", "feedback", "alerts")


def configure_logging(level: str = "INFO") -> None:
    """Log to stderr in one readable format; quiet the chatty Kafka clients."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("kafka", "aiokafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    if level == "DEBUG":
        for noisy in ("faust", "mode", "aiokafka"):
            logging.getLogger(noisy).setLevel(logging.INFO)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="abuse-detector",
        description="Streaming detector of LLM-API abuse and distillation campaigns.",
    )
    parser.add_argument("--version", action="version", version=f"abuse-detector {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"app.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except AbuseDetectorError as exc:
        print(f"abuse-detector: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("abuse-detector: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
