"""Real servers for the probe tests, started on loopback and always stopped.

- ``PostgresServer``: PostgreSQL 15 from the Debian binaries, TLS on, password
  (SCRAM) authentication over TCP for a user created at test time.
- ``S3Server``: moto in server mode, spoken to with the real S3 client.
- ``SwitchableProxy``: a TCP relay in front of either; ``hang()`` makes it
  accept connections and never answer (and freeze open ones), ``resume()``
  relays again. That is how a hung dependency is produced.
- ``ProbeProcess``: ``python -m tenon_probe`` as a subprocess.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import pwd
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pg8000.native
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.server import ThreadedMotoServer

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REPO = Path(__file__).resolve().parents[2]
DB_USER = "tenon_app"
DB_NAME = "tenon"
BUCKET = "tenon-dev-runtime-objects"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- TLS material, generated at test time -------------------------------------


@dataclass(frozen=True)
class Tls:
    """A throw-away CA and a server certificate for localhost and 127.0.0.1."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls(directory: Path) -> Tls:
    """Write a fresh CA certificate and a server key pair signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    tls = Tls(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    tls.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tls.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tls.key_file.chmod(0o600)
    return tls


# --- PostgreSQL -----------------------------------------------------------------


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class PostgresServer:
    """A PostgreSQL 15 cluster in a temporary directory."""

    base: Path
    port: int
    password: str = field(repr=False)
    version: str = ""

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base / "socket"

    def _pg(self, *args: str) -> None:
        subprocess.run(
            _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._pg("-l", str(self.base / "server.log"), "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop the server (fast mode: open connections are closed)."""
        self._pg("-m", "fast", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def admin(self) -> pg8000.native.Connection:
        """A superuser connection over the Unix socket (trust authentication)."""
        return pg8000.native.Connection(
            "postgres",
            unix_sock=str(self.socket_dir / f".s.PGSQL.{self.port}"),
            database="postgres",
            timeout=10,
        )

    def connections_of(self, user: str) -> int:
        """How many backends the user has open now (from pg_stat_activity)."""
        admin = self.admin()
        try:
            rows = admin.run(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = :user",
                user=user,
            )
        finally:
            admin.close()
        return int(rows[0][0])


def start_postgres() -> PostgresServer:
    """Create, configure and start a cluster with TLS and the test user."""
    base = Path(tempfile.mkdtemp(prefix="tenon-probe-pg-"))
    server = PostgresServer(base, free_port(), secrets.token_urlsafe(24))
    (base / "socket").mkdir()
    tls = make_tls(base)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (base, base / "socket", tls.cert_file, tls.key_file, tls.ca_file):
            os.chown(path, owner.pw_uid, owner.pw_gid)

    subprocess.run(
        _as_server_user(
            [
                *(str(PG_BIN / "initdb"), "-D", str(server.data), "-U", "postgres"),
                *("-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"),
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    _configure(server, tls)
    server.start()
    _create_user(server)
    return server


def _configure(server: PostgresServer, tls: Tls) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(server.port),
        "unix_socket_directories": f"'{server.socket_dir}'",
        "ssl": "on",
        "ssl_cert_file": f"'{tls.cert_file}'",
        "ssl_key_file": f"'{tls.key_file}'",
        "password_encryption": "'scram-sha-256'",
        "max_connections": "30",
        "fsync": "off",
        "full_page_writes": "off",
        "synchronous_commit": "off",
    }
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    (server.data / "pg_hba.conf").write_text(
        "local all postgres trust\n"
        f"hostssl {DB_NAME} {DB_USER} 127.0.0.1/32 scram-sha-256\n"
    )


def _create_user(server: PostgresServer) -> None:
    admin = server.admin()
    try:
        admin.run(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{server.password}'")
        admin.run(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")
        server.version = str(admin.run("SHOW server_version")[0][0])
    finally:
        admin.close()


def remove_postgres(server: PostgresServer) -> None:
    """Stop the cluster if it runs and delete its directory."""
    try:
        if server.running():
            server.stop()
    finally:
        shutil.rmtree(server.base, ignore_errors=True)


# --- S3 (moto server) -------------------------------------------------------------


@dataclass
class S3Server:
    """moto's S3 on loopback, with a client to prepare buckets."""

    port: int
    server: Any
    region: str = "eu-central-1"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": self.region},
        )

    def delete_bucket(self, name: str) -> None:
        self.client().delete_bucket(Bucket=name)


def start_s3() -> S3Server:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return S3Server(port, server)


# --- A relay that can hang --------------------------------------------------------


class SwitchableProxy:
    """A TCP relay on loopback in front of ``target`` that can be made to hang.

    While hanging it still accepts connections (the kernel completes the
    handshake) but reads and forwards nothing: the behaviour of a peer that is
    up at the network level and dead above it.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = int(self._listener.getsockname()[1])
        self._hanging = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        self._hanging.set()

    def resume(self) -> None:
        self._hanging.clear()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._keep(client)
            if self._hanging.is_set():
                continue  # accepted, and never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._keep(upstream)
            threading.Thread(
                target=self._relay, args=(client, upstream), daemon=True
            ).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                if self._hanging.is_set():
                    time.sleep(0.05)
                    continue  # freeze: bytes stay unread in the kernel buffers
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()


# --- The probe service as a subprocess -------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float


def request(url: str, method: str = "GET", timeout: float = 10) -> Response:
    """One HTTP request; error statuses are returned, not raised."""
    started = time.monotonic()
    req = urllib.request.Request(url, method=method)  # noqa: S310 - loopback http
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:  # noqa: S310
            status, headers, body = reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, dict(error.headers), error.read()
    return Response(status, headers, body, time.monotonic() - started)


@dataclass
class ProbeProcess:
    """A running ``python -m tenon_probe`` with its log file."""

    process: subprocess.Popen[bytes]
    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, method: str = "GET") -> Response:
        return request(self.url + path, method)

    def log(self) -> str:
        return self.log_file.read_text()

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log().splitlines() if line.strip()]

    def wait_for(self, path: str, status: int, within: float = 10) -> Response:
        """Poll ``path`` until it answers ``status``; fail with the last answer."""
        deadline = time.monotonic() + within
        while True:
            reply = self.get(path)
            if reply.status == status or time.monotonic() > deadline:
                return reply
            time.sleep(0.2)

    def terminate(self, timeout: float = 10) -> int:
        """SIGTERM, then wait for the exit status (SIGKILL if it does not exit)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def probe_environment() -> dict[str, str]:
    """The subprocess environment: moto's dummy keys, no instance metadata."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "SSL_CERT"))
    }
    env.update(
        PYTHONPATH=str(REPO / "src"),
        # The AWS SDK's default chain reads these; moto accepts any key.
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto accepts any key
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def start_probe(
    directory: Path,
    config: dict[str, Any] | str | None,
    credentials: dict[str, str] | None,
) -> ProbeProcess:
    """Write the configuration files and start the service on a free port.

    ``config`` None leaves runtime.json absent; a str is written verbatim.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config_file, secrets_dir = directory / "runtime.json", directory / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    if config is not None:
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        config_file.write_text(text)
    for name, value in (credentials or {}).items():
        (secrets_dir / name).write_text(value + "\n")

    port = free_port()
    log_file = directory / "probe.log"
    command = [sys.executable, "-m", "tenon_probe", "--config", str(config_file)]
    command += ["--secrets-dir", str(secrets_dir), "--listen", f"127.0.0.1:{port}"]
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, stderr=log, stdout=log, env=probe_environment()
        )
    probe = ProbeProcess(process, port, log_file)
    _wait_until_serving(probe)
    return probe


def _wait_until_serving(probe: ProbeProcess, within: float = 15) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if probe.process.poll() is not None:
            raise RuntimeError(f"the probe service exited early:\n{probe.log()}")
        try:
            probe.get("/healthz")
            return
        except OSError:
            time.sleep(0.05)
    probe.terminate()
    raise RuntimeError(f"the probe service did not serve in {within}s:\n{probe.log()}")


# --- The service wired to the servers ---------------------------------------------


@dataclass
class Deployment:
    """The service wired to the real servers through the switchable relays."""

    probe: ProbeProcess
    postgres: PostgresServer
    s3: S3Server
    db_proxy: SwitchableProxy
    s3_proxy: SwitchableProxy
    config: dict[str, Any]


def runtime_config(
    db_port: int, s3_endpoint: str, ca_file: Path | None = None
) -> dict[str, Any]:
    """A runtime.json of the documented shape pointing at the test servers."""
    config: dict[str, Any] = {
        "database": {
            "host": "localhost",
            "port": db_port,
            "name": DB_NAME,
            "sslmode": "verify-full",
            "connect_timeout_seconds": 5,
        },
        "object_storage": {
            "bucket": BUCKET,
            "region": "eu-central-1",
            "endpoint_url": s3_endpoint,
        },
        "listen": {"host": "0.0.0.0", "port": 8080},  # noqa: S104 - as deployed
    }
    if ca_file is not None:
        config["database"]["sslrootcert"] = str(ca_file)
    return config
