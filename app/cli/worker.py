"""``abuse-detector worker``: run the production worker against the configured broker."""

from __future__ import annotations

import argparse

from app.cli.main import configure_logging
from app.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``worker`` command."""
    parser = sub.add_parser(
        "worker",
        help="run the detection worker (settings from ABUSE_* environment variables)",
        description="Consume api-events, detect abuse, publish findings. "
        "Configured with ABUSE_* environment variables (see README).",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the worker and block until it stops."""
    settings = load_settings()
    configure_logging(settings.log_level)
    from app.stream.worker import DetectorWorker

    return DetectorWorker(settings).run()
