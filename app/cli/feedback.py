"""``abuse-detector feedback``: publish an analyst verdict to ``abuse-feedback``."""

from __future__ import annotations

import argparse
import getpass
import time

from app.findings.feedback import VERDICTS, Verdict
from app.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``feedback`` command."""
    parser = sub.add_parser(
        "feedback", help="tell the detector a finding or account is a false positive or confirmed"
    )
    parser.add_argument(
        "target", metavar="ACCOUNT_OR_FINDING", help="an account id or a finding uid"
    )
    parser.add_argument("--verdict", required=True, choices=VERDICTS)
    parser.add_argument("--note", default="", help="why (kept with the suppression)")
    parser.add_argument(
        "--expires-in",
        type=float,
        default=None,
        metavar="SECONDS",
        help="false positives only: stop suppressing after SECONDS (default: never)",
    )
    parser.add_argument(
        "--broker", default=None, help="bootstrap host:port (default: ABUSE_BROKER_URL)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Publish the verdict keyed by its target and wait until the broker has it."""
    from kafka import KafkaProducer

    settings = load_settings()
    bootstrap = args.broker or ",".join(settings.bootstrap_servers)
    now = time.time()
    verdict = Verdict(
        target=args.target,
        verdict=args.verdict,
        note=args.note,
        ts=now,
        analyst=getpass.getuser(),
        expires_ts=now + args.expires_in if args.expires_in else None,
    )
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    producer.send(settings.feedback_topic, key=args.target.encode(), value=verdict.to_bytes()).get(
        timeout=30
    )
    producer.close()
    print(
        f"sent {verdict.verdict} for {verdict.target_kind} {verdict.target} to {settings.feedback_topic}"
    )
    return 0
