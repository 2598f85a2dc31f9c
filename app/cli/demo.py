"""``abuse-detector demo``: embedded broker + worker + simulated campaigns, on one screen."""

from __future__ import annotations

import argparse
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from app.broker import EmbeddedBroker
from app.cli.main import configure_logging
from app.cli.view import finding_line, use_colour
from app.stream.process import WorkerProcess

TOPICS = ("api-events", "api-events-dlq", "abuse-alerts", "abuse-feedback")
ACTIVITIES = {1: "new", 2: "update", 3: "close"}
DRAIN_SECONDS = 10.0  # at the end, how long events still on their way may take


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    parser = sub.add_parser(
        "demo", help="run everything locally: embedded broker, worker, simulated traffic"
    )
    parser.add_argument(
        "--duration", type=float, default=0, help="stop after SECONDS (default: when traffic ends)"
    )
    parser.add_argument(
        "--scenario", default=None, help="simulator scenario name or file (default: demo)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=120.0,
        help="simulated seconds per real second (default: 120)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="simulator seed (default: the scenario's)"
    )
    parser.add_argument(
        "--partitions", type=int, default=4, help="partitions per topic (default: 4)"
    )
    parser.set_defaults(func=run)


class Feeder(threading.Thread):
    """Sends simulated events to the broker at the requested speed until told to stop."""

    def __init__(self, events: Iterator[dict[str, Any]], bootstrap: str, speed: float) -> None:
        super().__init__(name="demo-feeder", daemon=True)
        self.events, self.bootstrap, self.speed = events, bootstrap, speed
        self.stop_flag = threading.Event()
        self.sent = 0
        self.sim_ts = 0.0
        self.error: BaseException | None = None

    def _paced(self) -> Iterator[dict[str, Any]]:
        for event in self.events:
            if self.stop_flag.is_set():
                return
            self.sim_ts = float(event["ts"]) if not isinstance(event["ts"], str) else self.sim_ts
            yield event
            # Asked for the next one: this one was handed to the producer. (Counted before,
            # an event a stop caught while it waited for its time was counted, never sent.)
            self.sent += 1

    def run(self) -> None:
        from app.sim.output import send_kafka

        try:
            send_kafka(
                self._paced(), self.bootstrap, "api-events", speed=self.speed, stop=self.stop_flag
            )
        except BaseException as exc:  # shown to the user by the main loop
            self.error = exc


class Screen:
    """Redraws one screen of progress on a terminal; prints a line every few seconds otherwise."""

    def __init__(self) -> None:
        self.tty = use_colour()
        self.last_line = 0.0

    def draw(self, lines: list[str]) -> None:
        """Show the current state."""
        if self.tty:
            print("\033[H\033[2J" + "\n".join(lines), flush=True)
        elif time.monotonic() - self.last_line >= 5:
            self.last_line = time.monotonic()
            print(" | ".join(line.strip() for line in lines[:3]), flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the demo until --duration passes, the traffic ends, or Ctrl-C."""
    configure_logging("WARNING")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    from app.sim import builtin_scenarios, generate, load_scenario

    name = args.scenario or ("demo" if "demo" in builtin_scenarios() else "smoke")
    scenario = load_scenario(name)
    events, truth = generate(scenario, seed=args.seed, raw_text=True)
    started = time.monotonic()
    stats: Counter[str] = Counter()
    latest: list[str] = []
    flagged: set[str] = set()
    screen = Screen()
    print("abuse-detector demo: starting the embedded broker and the worker ...", flush=True)
    with EmbeddedBroker() as broker:
        broker.create_topics(TOPICS, partitions=args.partitions)
        app_id = f"demo-{uuid.uuid4().hex[:6]}"
        with WorkerProcess(
            broker.url, app_id, env={"ABUSE_PARTITIONS": str(args.partitions)}
        ) as worker:
            ready_s = worker.wait_ready(120)
            print(
                f"worker ready in {ready_s:.1f}s (pid {worker.pid}); sending traffic at {args.speed:g}x",
                flush=True,
            )
            feeder = Feeder(events, broker.bootstrap, args.speed)
            feeder.start()
            alerts = _alert_reader(broker.bootstrap)
            try:
                while True:
                    for finding in _poll(alerts):
                        activity = ACTIVITIES.get(int(finding.get("activity_id") or 0), "other")
                        stats[activity] += 1
                        if activity != "close":
                            stats[f"sev:{finding.get('severity')}"] += 1 if activity == "new" else 0
                            flagged.update(r["uid"] for r in finding.get("resources", []))
                        latest.append(finding_line(finding, colour=screen.tty))
                        del latest[:-12]
                        if not screen.tty:
                            print(f"finding: {latest[-1]}", flush=True)
                    elapsed = time.monotonic() - started
                    processed = worker.metric("abuse_detector_events_processed_total")
                    screen.draw(_screen(args, elapsed, feeder, processed, worker, stats, latest))
                    if feeder.error is not None:
                        raise feeder.error
                    if not worker.alive():
                        print(f"worker stopped unexpectedly:\n{worker.log_tail()}")
                        return 1
                    if args.duration and elapsed >= args.duration:
                        break
                    if not feeder.is_alive() and processed >= feeder.sent:
                        break
                    time.sleep(1.0)
            except KeyboardInterrupt:
                print("\ninterrupted; shutting down ...", flush=True)
            feeder.stop_flag.set()
            feeder.join(10)
            # The events still on their way get a few seconds, so the summary counts them.
            deadline = time.monotonic() + DRAIN_SECONDS
            while True:
                for finding in _poll(alerts, timeout_ms=1500):
                    stats[ACTIVITIES.get(int(finding.get("activity_id") or 0), "other")] += 1
                    flagged.update(r["uid"] for r in finding.get("resources", []))
                processed = worker.metric("abuse_detector_events_processed_total")
                if processed >= feeder.sent or time.monotonic() >= deadline:
                    break
            invalid = worker.metric('abuse_detector_events_processed_total{result="invalid"}')
            alerts.close()
    _summary(time.monotonic() - started, feeder.sent, processed, invalid, stats, flagged, truth)
    return 0


def _alert_reader(bootstrap: str) -> KafkaConsumer:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = consumer.partitions_for_topic("abuse-alerts") or {0}
    consumer.assign([TopicPartition("abuse-alerts", p) for p in partitions])
    consumer.seek_to_beginning()
    return consumer


def _poll(consumer: KafkaConsumer, timeout_ms: int = 50) -> list[dict[str, Any]]:
    out = []
    for records in consumer.poll(timeout_ms=timeout_ms, max_records=5000).values():
        for record in records:
            try:
                out.append(orjson.loads(record.value))
            except orjson.JSONDecodeError:
                continue
    return out


def _screen(
    args: argparse.Namespace,
    elapsed: float,
    feeder: Feeder,
    processed: float,
    worker: WorkerProcess,
    stats: Counter[str],
    latest: list[str],
) -> list[str]:
    sim_time = time.strftime("%Y-%m-%d %H:%M", time.gmtime(feeder.sim_ts)) if feeder.sim_ts else "-"
    limit = f" / {args.duration:.0f}s" if args.duration else ""
    sev = ", ".join(
        f"{k[4:].lower()} {v}" for k, v in sorted(stats.items()) if k.startswith("sev:") and v
    )
    return [
        f"abuse-detector demo   {elapsed:6.0f}s{limit}   simulated time {sim_time} UTC   speed {args.speed:g}x",
        f"  events sent {feeder.sent:>10,}   processed {processed:>10,.0f}   "
        f"dead-lettered {worker.metric('abuse_detector_dlq_events_total'):,.0f}",
        f"  findings: new {stats['new']}  updates {stats['update']}  closed {stats['close']}   ({sev or 'none yet'})",
        "  latest findings (Ctrl-C to stop):",
        *[f"  {line}" for line in latest],
    ]


def _summary(
    elapsed: float,
    sent: int,
    processed: float,
    invalid: float,
    stats: Counter[str],
    flagged: set[str],
    truth: dict[str, Any],
) -> None:
    print(
        f"\nsummary: {elapsed:.0f}s, {sent:,} events sent, {processed:,.0f} processed "
        f"({invalid:,.0f} dead-lettered)"
    )
    print(
        f"findings: {stats['new']} new, {stats['update']} updates, {stats['close']} closed; "
        f"{len(flagged)} distinct accounts flagged"
    )
    campaigns = truth.get("campaigns", [])
    for campaign in campaigns:
        members = set(campaign.get("accounts", []))
        hit = len(members & flagged)
        status = "FOUND" if hit else "not found (yet)"
        print(
            f"  campaign {campaign['id']:<24} {campaign['kind']:<15} {hit:>4}/{len(members):<4} members flagged  {status}"
        )
    roles = truth.get("accounts", {})
    benign_flagged = [
        a for a in flagged if roles.get(a, {}).get("role", "") in _benign_roles(truth)
    ]
    print(f"benign accounts flagged: {len(benign_flagged)}")


def _benign_roles(truth: dict[str, Any]) -> set[str]:
    campaign_ids = {c["id"] for c in truth.get("campaigns", [])}
    return {
        r["role"] for r in truth.get("accounts", {}).values() if r.get("role") not in campaign_ids
    }
