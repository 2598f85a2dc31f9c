"""Settings: one frozen object, read from ``ABUSE_*`` environment variables, validated once."""

from __future__ import annotations

import difflib
import os
import re
import ssl
import tempfile
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import SettingsError

ENV_PREFIX = "ABUSE_"
BROKER_SCHEMES = ("kafka",)
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


class Settings(BaseSettings):
    """Everything the worker, the CLI and the demo can be configured with."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    # Broker and security (SASL/SCRAM over TLS for production clusters).
    broker_url: str = "kafka://localhost:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None

    # Topics and their shape when the worker creates them.
    events_topic: str = "api-events"
    dlq_topic: str = "api-events-dlq"
    alerts_topic: str = "abuse-alerts"
    feedback_topic: str = "abuse-feedback"
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)

    # Worker runtime.
    app_id: str = Field(default="abuse-detector", min_length=1, max_length=200)
    store_url: str = "memory://"
    data_dir: str = Field(
        default_factory=lambda: str(Path(tempfile.gettempdir()) / "abuse-detector")
    )
    checkpoint_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Fired coordination groups are large (their member samples): written at most this often.
    group_checkpoint_seconds: float = Field(default=30.0, gt=0, le=3600)
    create_topics: bool = True
    web_enabled: bool = False
    web_port: int = Field(default=6066, ge=0, le=65535)
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    max_event_bytes: int = Field(default=65536, ge=256, le=16 * 1024 * 1024)
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    # Faust's check at table recovery that no changelog offset read or stored is beyond
    # the topic's end (data removed under a RocksDB store). The embedded broker reports end
    # offsets below the records it serves, so the helpers that run it turn the check off.
    recovery_consistency_check: bool = True
    stream_buffer_maxsize: int = Field(default=20_000, ge=100)
    # Python's cyclic garbage collector scans its young generation after this many net
    # allocations of container objects (Python's own default is 700; 0 keeps it). Every
    # event and signal allocates dozens, so the default collects hundreds of times a second.
    gc_young_threshold: int = Field(default=100_000, ge=0, le=10_000_000)
    session_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # After SIGTERM/SIGINT, exit anyway if a graceful stop has not finished (broker gone).
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Messages waiting and no batch finished for this long: log a stall report (task stacks).
    stall_seconds: float = Field(default=120.0, gt=0, le=86400)
    # The first batch of events waits this long at most for the feedback follower to have
    # read every verdict already given (0: do not wait).
    feedback_wait_seconds: float = Field(default=10.0, ge=0, le=600)
    allowlist_file: str | None = None
    seed: int = 42
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str) -> str:
        for part in value.split(","):
            url = urlsplit(part.strip() if "://" in part else f"kafka://{part.strip()}")
            if url.scheme not in BROKER_SCHEMES:
                raise ValueError(
                    f"unknown broker scheme {url.scheme!r} in {part.strip()!r} "
                    f"(expected one of: {', '.join(s + '://' for s in BROKER_SCHEMES)})"
                )
            if not url.hostname:
                raise ValueError(f"no host in broker address {part.strip()!r}")
            try:
                url.port  # noqa: B018 - parsing the port validates it
            except ValueError as exc:
                raise ValueError(f"bad port in broker address {part.strip()!r}") from exc
        return value

    @field_validator("store_url")
    @classmethod
    def _check_store(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in ("memory", "rocksdb", "aerospike"):
            raise ValueError(f"unknown table store {value!r} (use memory:// or rocksdb://)")
        if scheme == "rocksdb" and not (find_spec("rocksdict") or find_spec("rocksdb")):
            raise ValueError(
                "rocksdb:// needs the rocksdict package: pip install 'abuse-detector[rocksdb]'"
            )
        return value

    @field_validator("ssl_cafile")
    @classmethod
    def _check_cafile(cls, value: str | None) -> str | None:
        # Read at start, not at the first connection: a wrong path is one line, not a traceback.
        if value is not None:
            try:
                ssl.create_default_context(cafile=value)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"cannot load CA file {value!r}: {exc.strerror or exc}") from None
        return value

    @field_validator("events_topic", "dlq_topic", "alerts_topic", "feedback_topic", "app_id")
    @classmethod
    def _check_topic_name(cls, value: str) -> str:
        # The app id prefixes the internal topics, so it obeys Kafka's topic name rule too.
        if not _TOPIC_NAME.fullmatch(value) or value in (".", ".."):
            raise ValueError(
                f"{value!r} is not a Kafka topic name (letters, digits, '.', '_' and '-', "
                "at most 249)"
            )
        return value

    @model_validator(mode="after")
    def _check_topics_differ(self) -> Settings:
        topics = {
            "ABUSE_EVENTS_TOPIC": self.events_topic,
            "ABUSE_DLQ_TOPIC": self.dlq_topic,
            "ABUSE_ALERTS_TOPIC": self.alerts_topic,
            "ABUSE_FEEDBACK_TOPIC": self.feedback_topic,
        }
        seen: dict[str, str] = {}
        for name, topic in topics.items():
            if topic in seen:  # dead letters or findings would be read back as events
                raise ValueError(f"{seen[topic]} and {name} are the same topic {topic!r}")
            seen[topic] = name
        return self

    @model_validator(mode="after")
    def _check_sasl(self) -> Settings:
        if self.security_protocol.startswith("SASL") and not self.sasl_mechanism:
            raise ValueError("security_protocol SASL_* needs ABUSE_SASL_MECHANISM")
        if self.sasl_mechanism and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                "ABUSE_SASL_MECHANISM needs ABUSE_SASL_USERNAME and ABUSE_SASL_PASSWORD"
            )
        if self.sasl_mechanism and not self.security_protocol.startswith("SASL"):
            raise ValueError(
                "ABUSE_SASL_MECHANISM needs ABUSE_SECURITY_PROTOCOL SASL_SSL or SASL_PLAINTEXT "
                f"(it is {self.security_protocol}, which sends no credentials)"
            )
        return self

    @property
    def bootstrap_servers(self) -> list[str]:
        """Broker addresses as ``host:port`` strings for kafka clients."""
        servers = []
        for part in self.broker_url.split(","):
            url = urlsplit(part.strip() if "://" in part else f"kafka://{part.strip()}")
            servers.append(f"{url.hostname}:{url.port or 9092}")
        return servers


KNOWN_VARIABLES = sorted(f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields)
_KNOWN = frozenset(KNOWN_VARIABLES)
# What Kubernetes puts in every pod for each Service of its namespace ("service links"): a
# Service named abuse-detector-metrics gives ABUSE_DETECTOR_METRICS_SERVICE_HOST and more.
_SERVICE_LINK = re.compile(
    r".+_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)"
)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """``ABUSE_*`` environment variables that name no setting (a typo is ignored otherwise),
    leaving out Kubernetes' service-link variables."""
    env = os.environ if environ is None else environ
    return sorted(
        k
        for k in env
        if k.upper().startswith(ENV_PREFIX)
        and k.upper() not in _KNOWN
        and not _SERVICE_LINK.fullmatch(k.upper())
    )


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment plus overrides; raise one readable line on error."""
    unknown = unknown_variables()
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name.upper(), KNOWN_VARIABLES, n=1)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise SettingsError("invalid settings: no such setting " + ", ".join(hints))
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"{ENV_PREFIX}{field.upper()}" if err["loc"] else ""
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{env or field}: {msg}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
