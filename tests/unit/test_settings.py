"""Settings: validated once at start, one clear line on error, secrets never shown."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.errors import SettingsError
from app.settings import load_settings


def test_defaults_are_valid():
    settings = load_settings()
    assert settings.bootstrap_servers == ["localhost:9092"]
    assert settings.events_topic == "api-events"


def test_several_brokers():
    settings = load_settings(broker_url="kafka://a:9093,kafka://b:9094")
    assert settings.bootstrap_servers == ["a:9093", "b:9094"]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"broker_url": "http://host:9092"}, "unknown broker scheme"),
        ({"broker_url": "kafka://host:notaport"}, "bad port"),
        ({"partitions": -1}, "ABUSE_PARTITIONS"),
        ({"store_url": "redis://x"}, "unknown table store"),
        ({"security_protocol": "SASL_SSL"}, "ABUSE_SASL_MECHANISM"),
        ({"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u"}, "ABUSE_SASL_PASSWORD"),
        (
            {"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"},
            "ABUSE_SECURITY_PROTOCOL SASL_SSL or SASL_PLAINTEXT",
        ),
        ({"dlq_topic": "api-events"}, "ABUSE_EVENTS_TOPIC and ABUSE_DLQ_TOPIC are the same"),
        ({"alerts_topic": "abuse-feedback"}, "ABUSE_ALERTS_TOPIC and ABUSE_FEEDBACK_TOPIC"),
        ({"events_topic": "api events"}, "not a Kafka topic name"),
        ({"app_id": "abuse/detector"}, "ABUSE_APP_ID"),
        ({"ssl_cafile": "/nonexistent/ca.pem"}, "ABUSE_SSL_CAFILE: cannot load CA file"),
    ],
)
def test_bad_settings_raise_one_line(overrides, needle):
    with pytest.raises(SettingsError) as info:
        load_settings(**overrides)
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_password_is_secret():
    settings = load_settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="u",
        sasl_password="hunter2-secret",
    )
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in str(settings)
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "hunter2-secret"


@pytest.mark.parametrize(
    "env",
    [
        {"ABUSE_BROKER_URL": "amqp://localhost:5672"},
        {"ABUSE_PARTITIONS": "-4"},
        {"ABUSE_METRICS_PORT": "99999"},
        {"ABUSE_BATCHSIZE": "5"},  # a typo: no such setting
    ],
)
def test_worker_refuses_bad_settings_with_one_line(env):
    result = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "worker"],
        env={
            **os.environ,
            **env,
            "ABUSE_SASL_PASSWORD": "topsecret-pw",
            "ABUSE_SASL_USERNAME": "u",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("abuse-detector: error: invalid settings")
    assert "Traceback" not in result.stderr and "topsecret-pw" not in result.stderr


def test_the_rocksdb_store_without_its_library_is_a_clear_error(monkeypatch) -> None:
    import app.settings as settings_module

    monkeypatch.setattr(settings_module, "find_spec", lambda name: None)
    with pytest.raises(SettingsError, match=r"pip install 'abuse-detector\[rocksdb\]'"):
        load_settings(store_url="rocksdb://")
    assert load_settings(store_url="memory://").store_url == "memory://"


def test_the_recovery_consistency_check_reaches_faust(tmp_path) -> None:
    from app.stream.app import build_app

    on, _ = build_app(load_settings(data_dir=str(tmp_path)))
    off, _ = build_app(load_settings(data_dir=str(tmp_path), recovery_consistency_check=False))
    assert on.conf.recovery_consistency_check is True
    assert off.conf.recovery_consistency_check is False


def test_a_misspelt_variable_is_named_with_the_setting_it_resembles(monkeypatch) -> None:
    monkeypatch.setenv("ABUSE_BATCHSIZE", "5")
    monkeypatch.setenv("ABUSE_NO_SUCH_THING", "1")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "ABUSE_BATCHSIZE (did you mean ABUSE_BATCH_SIZE?)" in message
    assert "ABUSE_NO_SUCH_THING" in message and "\n" not in message


def test_kubernetes_service_links_are_not_taken_for_typos() -> None:
    from app.settings import unknown_variables

    links = {
        "ABUSE_DETECTOR_METRICS_SERVICE_HOST": "10.0.0.7",
        "ABUSE_DETECTOR_METRICS_SERVICE_PORT": "9464",
        "ABUSE_DETECTOR_METRICS_SERVICE_PORT_METRICS": "9464",
        "ABUSE_DETECTOR_METRICS_PORT": "tcp://10.0.0.7:9464",
        "ABUSE_DETECTOR_METRICS_PORT_9464_TCP": "tcp://10.0.0.7:9464",
        "ABUSE_DETECTOR_METRICS_PORT_9464_TCP_ADDR": "10.0.0.7",
    }
    assert unknown_variables({**links, "ABUSE_BATCH_SIZE": "5", "PATH": "/bin"}) == []
    assert unknown_variables({**links, "ABUSE_BATCHSIZE": "5"}) == ["ABUSE_BATCHSIZE"]


def test_a_readable_ca_file_is_taken_and_garbage_is_refused(tmp_path) -> None:
    import ssl

    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(SettingsError, match="ABUSE_SSL_CAFILE: cannot load CA file"):
        load_settings(ssl_cafile=str(garbage))
    system_ca = ssl.get_default_verify_paths().openssl_cafile
    if not os.path.exists(system_ca):
        pytest.skip("no system CA bundle here")
    assert load_settings(ssl_cafile=system_ca).ssl_cafile == system_ca
