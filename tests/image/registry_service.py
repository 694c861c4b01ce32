"""A real registry (Debian's docker-registry) on loopback, and a token server.

``run_registry`` starts the registry on a free port with its storage in a
temporary folder, waits until it answers and stops it afterwards. With
``token_auth`` it requires bearer tokens from ``TokenServer``, a small token
endpoint signing ES256 JWTs with a key and certificate made at test time.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

REGISTRY = shutil.which("docker-registry")
SKOPEO = shutil.which("skopeo")
SERVICE = "tenon-test-registry"
ISSUER = "tenon-test-token-issuer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """Issues registry tokens for whatever scope is asked; records each request."""

    workdir: Path
    grant: bool = True
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = self.workdir / "token-root.pem"
        self.bundle.write_bytes(
            self.certificate.public_bytes(serialization.Encoding.PEM)
        )
        self.port = free_port()
        self._server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", self.port), self._handler()
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def token(self, scopes: list[str]) -> str:
        """An ES256 JWT the registry accepts for the scopes."""
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": "ci",
            "aud": SERVICE,
            "exp": now + 600,
            "nbf": now - 60,
            "iat": now,
            "jti": _b64(now.to_bytes(8, "big")),
            "access": access,
        }
        signing_input = (
            f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        )
        r, s = decode_dss_signature(
            self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        )
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                server.requests.append(self.path)
                body = b"{}"
                if server.grant:
                    token = server.token(query.get("scope", []))
                    body = json.dumps({"token": token, "access_token": token}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Registry:
    """A running registry: where it listens."""

    port: int

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def push(
        self, layout: Path, repository: str, tag: str = "test", creds: str | None = None
    ) -> None:
        """Copy the layout's image into the registry with skopeo, digest kept."""
        command = [
            str(SKOPEO),
            "copy",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci:{layout}",
            f"docker://{self.host}/{repository}:{tag}",
        ]
        if creds:
            command[2:2] = ["--dest-creds", creds]
        subprocess.run(command, check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def run_registry(workdir: Path, token: TokenServer | None = None) -> Iterator[Registry]:
    """Run docker-registry on a free loopback port until the block ends."""
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "storage")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": _b64(bytes(16))},
    }
    if token is not None:
        config["auth"] = {
            "token": {
                "realm": token.realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(token.bundle),
            }
        }
    (workdir / "config.yml").write_text(json.dumps(config))
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen(
        [str(REGISTRY), "serve", str(workdir / "config.yml")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_answering(port, process, workdir / "registry.log")
        yield Registry(port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_answering(
    port: int, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 401: it answers, and asks for a token
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"docker-registry did not answer on port {port}")
