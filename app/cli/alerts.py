"""``abuse-detector alerts tail``: follow ``abuse-alerts`` as readable lines or JSON."""

from __future__ import annotations

import argparse
import sys
import time

import orjson

from app.cli.view import finding_line, runbook_line, use_colour
from app.errors import BrokerError
from app.settings import load_settings

SEVERITY_ORDER = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``alerts`` command group."""
    parser = sub.add_parser("alerts", help="read findings from the alerts topic")
    alerts_sub = parser.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND", required=True)
    tail = alerts_sub.add_parser("tail", help="follow findings as they are published")
    tail.add_argument(
        "--broker", default=None, help="bootstrap host:port (default: ABUSE_BROKER_URL)"
    )
    tail.add_argument("--topic", default=None, help="alerts topic (default: ABUSE_ALERTS_TOPIC)")
    tail.add_argument("--min-severity", choices=list(SEVERITY_ORDER), default="informational")
    tail.add_argument(
        "--detector", action="append", default=[], help="only this detector (repeatable)"
    )
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest finding")
    tail.add_argument("--json", action="store_true", help="print each finding as one JSON line")
    tail.add_argument(
        "--max", type=int, default=0, help="exit after N findings (default: follow forever)"
    )
    tail.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Follow the alerts topic until Ctrl-C (or --max findings)."""
    from kafka import KafkaConsumer, TopicPartition

    settings = load_settings()
    bootstrap = args.broker or ",".join(settings.bootstrap_servers)
    topic = args.topic or settings.alerts_topic
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    deadline = time.monotonic() + 30
    partitions = consumer.partitions_for_topic(topic)
    while not partitions and time.monotonic() < deadline:
        time.sleep(0.5)
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        consumer.close()
        raise BrokerError(f"topic {topic!r} not found on {bootstrap}")
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    if args.from_beginning:
        consumer.seek_to_beginning()
    else:
        consumer.seek_to_end()
    colour = use_colour()
    floor = SEVERITY_ORDER[args.min_severity]
    shown = 0
    print(f"following {topic} on {bootstrap} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        while True:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    try:
                        finding = orjson.loads(record.value)
                    except orjson.JSONDecodeError:
                        print(
                            f"skipping a non-JSON message at offset {record.offset}",
                            file=sys.stderr,
                        )
                        continue
                    if int(finding.get("severity_id", 0)) < floor:
                        continue
                    detector = finding.get("finding_info", {}).get("analytic", {}).get("name")
                    if args.detector and detector not in args.detector:
                        continue
                    if args.json:
                        sys.stdout.write(orjson.dumps(finding).decode() + "\n")
                    else:
                        sys.stdout.write(
                            finding_line(finding, colour) + "\n" + runbook_line(finding) + "\n"
                        )
                    sys.stdout.flush()
                    shown += 1
                    if args.max and shown >= args.max:
                        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        consumer.close()
