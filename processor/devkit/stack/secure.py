"""The secured embedded stack (``srguard stack up --secure``): Apache Kafka with a SASL_SSL listener
(SCRAM-SHA-512) and an mTLS listener, the KRaft StandardAuthorizer denying whatever no ACL allows, and Redis
over TLS with ACL users; a CA and every certificate made here with ``cryptography``.

Each principal's client settings go to a TOML file of its own (mode 0600) that srguard reads with
``SRGUARD_CONFIG``: the passwords live there, never in an environment variable, a log, a process title or
``stack status``. Principals: ``admin`` (the stack's super user: topics, ACLs), ``srguard-run``,
``srguard-feed``, ``srguard-analyst`` (SCRAM), and ``srguard-run`` again by client certificate (mTLS); the
broker itself is ``broker`` (by certificate, on its own listeners).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCRAM = "SCRAM-SHA-512"
ADMIN = "admin"
BROKER = "broker"
SCRAM_USERS = (ADMIN, "srguard-run", "srguard-feed", "srguard-analyst")
MTLS_USERS = ("srguard-run", "srguard-feed", "srguard-analyst")
VALID_DAYS = 30
# Redis: the stack's users and what each may do (README "Security" explains them)
# (srguard's keys under the default prefix: ``srg:*``, and the party directory's hash tag ``{srg:party}*``)
KEYS = "~srg:* ~{srg:party}*"
REDIS_RULES = {
    ADMIN: "~* &* +@all",
    "srguard-feed": f"{KEYS} +@all -@dangerous +info",  # the one writer of srguard's keys
    "srguard-run": f"{KEYS} +@read +@connection +info",  # embedded_feed = false: it only reads
    "srguard-analyst": f"{KEYS} +@read +@connection",
}


@dataclass(frozen=True)
class Ports:
    sasl_ssl: int
    mtls: int
    broker: int  # the broker's own listener (inter-broker), mTLS as User:broker
    controller: int
    redis_tls: int


@dataclass(frozen=True)
class Place:
    """Where the secured services are reached and where they see the material's files: loopback and the
    folder itself for the embedded stack; service names and a mount for compose (``kit.py``)."""

    kafka_host: str = "127.0.0.1"
    redis_host: str = "127.0.0.1"
    bind: str = "127.0.0.1"  # the address the services listen on
    mount: Path | None = None  # the folder as the services and clients see it (default: where it was written)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    hosts: tuple[str, ...] = (),
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:  # a server's names (loopback, and compose's service names), as clients verify them
        san: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        san += [x509.DNSName(host) for host in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class SecureMaterial:
    """The CA, the certificates and the passwords of one secured stack, in ``folder`` (created 0700)."""

    def __init__(self, folder: Path, place: Place | None = None) -> None:
        self.folder = folder
        self.place = place or Place()
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        ca_key = _key()
        self.ca = _certificate("srguard stack CA", ca_key, None, ca_key)
        self.ca_file = _write(folder / "ca.pem", _pem_cert(self.ca))
        server_key = _key()
        names = tuple(dict.fromkeys((self.place.kafka_host, self.place.redis_host)))
        server = _certificate(BROKER, server_key, self.ca, ca_key, names)
        # Kafka's PEM key store: the key, then the certificate chain, in one file
        self.broker_keystore = _write(folder / "broker-keystore.pem", _pem_key(server_key) + _pem_cert(server))
        self.server_cert = _write(folder / "server.pem", _pem_cert(server))
        self.server_key = _write(folder / "server.key", _pem_key(server_key))
        self.client_files: dict[str, tuple[Path, Path]] = {}
        for user in MTLS_USERS:
            key = _key()
            cert = _certificate(user, key, self.ca, ca_key)
            self.client_files[user] = (
                _write(folder / f"{user}.pem", _pem_cert(cert)),
                _write(folder / f"{user}.key", _pem_key(key)),
            )
        self.passwords = {user: secrets.token_urlsafe(24) for user in SCRAM_USERS}
        _write(folder / "passwords.json", json.dumps(self.passwords).encode())

    def scram_arguments(self) -> list[str]:
        """kafka-storage format's ``--add-scram`` for each SCRAM user (KRaft stores them from the start)."""
        found = []
        for user, password in self.passwords.items():
            found += ["--add-scram", f"{SCRAM}=[name={user},password={password}]"]
        return found

    def seen(self, path: Path) -> str:
        """``path`` as the services and clients see it (under the mount, in compose)."""
        return str((self.place.mount or self.folder) / path.name)

    def server_properties(self, ports: Ports) -> dict[str, str]:
        """What a secured node adds to (and overrides in) the plain one's settings."""
        bind, host = self.place.bind, self.place.kafka_host
        return {
            "listeners": (
                f"SASL_SSL://{bind}:{ports.sasl_ssl},MTLS://{bind}:{ports.mtls},"
                f"BROKER://{bind}:{ports.broker},CONTROLLER://127.0.0.1:{ports.controller}"
            ),
            "advertised.listeners": (
                f"SASL_SSL://{host}:{ports.sasl_ssl},MTLS://{host}:{ports.mtls},BROKER://{host}:{ports.broker}"
            ),
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,MTLS:SSL,BROKER:SSL,CONTROLLER:SSL",
            "inter.broker.listener.name": "BROKER",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": self.seen(self.broker_keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self.seen(self.ca_file),
            "ssl.client.auth": "required",  # the SSL listeners: a client certificate is the principal
            "listener.name.sasl_ssl.ssl.client.auth": "none",  # SASL_SSL: the SCRAM user is
            "sasl.enabled.mechanisms": SCRAM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{BROKER};User:{ADMIN}",
        }

    def kafka_client(self, user: str, ports: Ports, mtls: bool = False) -> dict[str, str]:
        """librdkafka settings for ``user``: SCRAM over SASL_SSL, or its client certificate over mTLS."""
        host = self.place.kafka_host
        if mtls:
            cert, key = self.client_files[user]
            return {
                "bootstrap.servers": f"{host}:{ports.mtls}",
                "security.protocol": "SSL",
                "ssl.ca.location": self.seen(self.ca_file),
                "ssl.certificate.location": self.seen(cert),
                "ssl.key.location": self.seen(key),
            }
        return {
            "bootstrap.servers": f"{host}:{ports.sasl_ssl}",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": SCRAM,
            "sasl.username": user,
            "sasl.password": self.passwords[user],
            "ssl.ca.location": self.seen(self.ca_file),
        }

    def redis_url(self, user: str, ports: Ports) -> str:
        address = f"{self.place.redis_host}:{ports.redis_tls}"
        return f"rediss://{user}:{self.passwords[user]}@{address}/0?ssl_ca_certs={self.seen(self.ca_file)}"

    def write_redis_conf(self, ports: Ports) -> Path:
        """redis-server's TLS listener (no plaintext one) and ACL users: the default user off, one user per
        principal. A config file (0600), not arguments: the passwords stay out of the process title."""
        lines = [
            "port 0",
            f"bind {self.place.bind}",
            f"tls-port {ports.redis_tls}",
            f"tls-cert-file {self.seen(self.server_cert)}",
            f"tls-key-file {self.seen(self.server_key)}",
            f"tls-ca-cert-file {self.seen(self.ca_file)}",
            "tls-auth-clients no",
            "user default off",
        ]
        lines += [f"user {user} on >{self.passwords[user]} {rule}" for user, rule in REDIS_RULES.items()]
        return _write(self.folder / "redis.conf", ("\n".join(lines) + "\n").encode())

    def write_configs(self, ports: Ports) -> dict[str, Path]:
        """One srguard TOML config a principal (``<user>.toml``, ``<user>-mtls.toml``), mode 0600."""
        written = {}
        for user in SCRAM_USERS:
            written[user] = self._config(f"{user}.toml", self.kafka_client(user, ports), self.redis_url(user, ports))
        for user in MTLS_USERS:
            client = self.kafka_client(user, ports, mtls=True)
            written[f"{user}-mtls"] = self._config(f"{user}-mtls.toml", client, self.redis_url(user, ports))
        return written

    def _config(self, name: str, kafka: dict[str, str], redis_url: str) -> Path:
        bootstrap = kafka.pop("bootstrap.servers")
        lines = [f"bootstrap_servers = {json.dumps(bootstrap)}", f"redis_url = {json.dumps(redis_url)}"]
        if name.startswith("srguard-run"):  # `run` only reads Redis: `srguard feed` (srguard-feed) writes it
            lines.append("embedded_feed = false")
        lines.append("[kafka]")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in kafka.items()]
        return _write(self.folder / name, ("\n".join(lines) + "\n").encode())
