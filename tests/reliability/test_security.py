"""Secure connections and secrets: rediss:// with an ACL user, librdkafka SSL/SASL pass-through,
no secret in any output."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from processor.devkit.stack import free_port, redis_server_binary

pytestmark = pytest.mark.integration
PASSWORD = "s3cret-pw-4471"


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, obj: x509.Certificate | ec.EllipticCurvePrivateKey) -> Path:
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    ca_key, server_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("test CA", ca_key, None, ca_key, ca=True)
    other_ca = _certificate("another CA", other_key, None, other_key, ca=True)
    server = _certificate("127.0.0.1", server_key, ca, ca_key, ca=False)
    port = free_port()
    process = subprocess.Popen(
        [
            str(redis_server_binary()),
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(_pem(folder / "server.pem", server)),
            "--tls-key-file",
            str(_pem(folder / "server.key", server_key)),
            "--tls-ca-cert-file",
            str(_pem(folder / "ca.pem", ca)),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--user",
            "default",
            "off",
            "--user",
            "srguard",
            "on",
            f">{PASSWORD}",
            "~*",
            "&*",
            "+@all",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"rediss://srguard:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={folder / 'ca.pem'}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if redis.Redis.from_url(url).ping():
                break
        except redis.RedisError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("TLS redis-server did not start")
    yield {"url": url, "port": port, "ca": folder / "ca.pem", "other_ca": _pem(folder / "other.pem", other_ca)}
    process.kill()
    process.wait(10)


def srguard(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def test_rediss_with_an_acl_user_works(tls_redis, tmp_path, unique):
    refresh = tmp_path / "refresh.csv"
    refresh.write_text("mpxn,network_operator_id,effective_from\n1200000000020,LOND,2020-01-01\n")
    env = {
        "SRGUARD_REDIS_URL": tls_redis["url"],
        "SRGUARD_REDIS_KEY_PREFIX": f"tls{unique}",
        "SRGUARD_REGISTRATION_BUCKETS": "64",
    }
    loaded = srguard("registrations", "load", str(refresh), **env)
    assert loaded.returncode == 0, loaded.stderr
    shown = srguard("registrations", "get", "1200000000020", **env)
    assert shown.returncode == 0 and "LOND" in shown.stdout
    assert PASSWORD not in loaded.stdout + loaded.stderr + shown.stdout + shown.stderr


@pytest.mark.parametrize(
    "case", ["wrong password", "plain connection to the TLS port", "untrusted server", "default user is off"]
)
def test_bad_redis_credentials_fail_clearly_without_echoing_secrets(tls_redis, case):
    port, ca, other = tls_redis["port"], tls_redis["ca"], tls_redis["other_ca"]
    url = {
        "wrong password": f"rediss://srguard:wrong-{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}",
        "plain connection to the TLS port": f"redis://srguard:{PASSWORD}@127.0.0.1:{port}/0?socket_timeout=3",
        "untrusted server": f"rediss://srguard:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={other}",
        "default user is off": f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}",
    }[case]
    result = srguard("registrations", "get", "1200000000020", SRGUARD_REDIS_URL=url)
    assert result.returncode == 2 and "cannot reach Redis" in result.stderr, result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_librdkafka_ssl_settings_reach_the_clients(kafka_bootstrap, redis_url, tmp_path):
    result = srguard(
        "run",
        "--metrics-port",
        "0",
        SRGUARD_BOOTSTRAP_SERVERS=kafka_bootstrap,
        SRGUARD_REDIS_URL=redis_url,
        SRGUARD_ALLOW_UNTRUSTED_CERTIFICATES="true",
        SRGUARD_KAFKA_SECURITY_PROTOCOL="SSL",
        SRGUARD_KAFKA_SSL_CA_LOCATION=str(tmp_path / "no-such-ca.pem"),
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "ssl.ca.location" in result.stderr or "no-such-ca.pem" in result.stderr, result.stderr[-2000:]


def test_sasl_password_never_appears_in_output(kafka_bootstrap, redis_url, unique):
    secret = "kafka-pw-9931"
    result = srguard(
        "run",
        "--metrics-port",
        "0",
        SRGUARD_BOOTSTRAP_SERVERS=kafka_bootstrap,
        SRGUARD_REDIS_URL=redis_url,
        SRGUARD_GROUP_ID=f"sasl-{unique}",
        SRGUARD_ALLOW_UNTRUSTED_CERTIFICATES="true",
        SRGUARD_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        SRGUARD_KAFKA_SASL_MECHANISM="PLAIN",
        SRGUARD_KAFKA_SASL_USERNAME="srguard",
        SRGUARD_KAFKA_SASL_PASSWORD=secret,
        SRGUARD_KAFKA_SOCKET_TIMEOUT_MS="3000",
        SRGUARD_FEED_READY_TIMEOUT_S="5",
    )
    assert result.returncode != 0, "an unauthenticated SASL setup should not come up"
    assert secret not in result.stdout + result.stderr
