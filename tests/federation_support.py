"""Test helpers for federation: a test CA, TLS servers on loopback, signed key responses.

Everything listens on 127.0.0.1 only. Names like `example.test` reach these servers only through a
stubbed resolver (`stub_resolver`), never through DNS.
"""
from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import sign_json

TEST_NAMES = ("localhost", "example.test", "delegated.test", "srv-target.test", "notary.test")


@dataclass
class TestCA:
    ca_path: Path
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx


def make_test_ca(directory: Path, names: tuple[str, ...] = TEST_NAMES) -> TestCA:
    """A CA and one leaf certificate for `names`, 127.0.0.1 and ::1, written as PEM files."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hsproject test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                              x509.IPAddress(ipaddress.ip_address("::1"))]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return TestCA(ca_path, cert_path, key_path)


Handler = Callable[["Recorded"], "tuple[int, dict[str, str], Any]"]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    sni: str | None = None


@dataclass
class LoopbackServer:
    """A threaded HTTPS (or HTTP) server on 127.0.0.1 answering from `routes` ({path: handler}).

    A handler returns (status, headers, body); a dict or list body is sent as JSON."""

    ca: TestCA | None
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self):
        server = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                sni = getattr(self.connection, "hs_sni", None)
                rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, sni)
                server.requests.append(rec)
                route = server.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    status, headers, payload = 404, {}, {"errcode": "M_UNRECOGNIZED", "error": "no route"}
                else:
                    status, headers, payload = route(rec)
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json", **headers}
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        if self.ca is not None:
            ctx = self.ca.server_context()

            def remember_sni(sslsock, name, _ctx):
                sslsock.hs_sni = name  # the handler reads it from its connection

            ctx.sni_callback = remember_sni
            plain_get_request = self.httpd.get_request

            def get_request():
                sock, addr = plain_get_request()
                return ctx.wrap_socket(sock, server_side=True), addr

            self.httpd.get_request = get_request
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def server_name(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def new_signing_key(version: str = "test1"):
    return generate_signing_key(version)


def key_response(server_name: str, key, *, valid_until_ts: int | None = None,
                 old_verify_keys: dict | None = None, sign_with=None) -> dict:
    """A `/_matrix/key/v2/server` body for `key`, self-signed (by `sign_with` if given)."""
    body = {
        "server_name": server_name,
        "verify_keys": {f"ed25519:{key.version}": {"key": encode_verify_key_base64(get_verify_key(key))}},
        "old_verify_keys": old_verify_keys or {},
        "valid_until_ts": valid_until_ts if valid_until_ts is not None else int(time.time() * 1000) + 3600_000,
    }
    return sign_json(body, server_name, sign_with or key)


def json_route(body: Any, status: int = 200, headers: dict | None = None) -> Handler:
    def handler(_rec: Recorded):
        return status, dict(headers or {}), body() if callable(body) else body
    return handler


def stub_resolver(mapping: dict[str, list[str]]):
    """A replacement for apps.core.outbound.lookup_host: only the mapped names resolve."""
    import httpx

    calls: list[str] = []

    def lookup(name: str) -> list[str]:
        calls.append(name)
        if name in mapping:
            return list(mapping[name])
        raise httpx.ConnectError(f"stub resolver: {name} is not mapped")

    lookup.calls = calls
    return lookup


# --- fixtures (imported by the conftest.py of the federation test folders) ---------------------------------


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    return make_test_ca(tmp_path_factory.mktemp("federation-ca"))


@pytest.fixture
def federation_tls(settings, test_ca):
    """Trust the test CA (and only it) for federation."""
    settings.HS = settings.HS.replace(federation_custom_ca_list=(test_ca.ca_path,))
    return test_ca


@pytest.fixture
def tls_server(test_ca, federation_tls):
    servers = []

    def make(**routes):
        s = LoopbackServer(test_ca)
        s.routes.update(routes)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


class PrefixRoutes(dict):
    """Routes of a LoopbackServer matched by path prefix (paths such as make_join's or /hierarchy's end
    with IDs only known when the request comes)."""

    def get(self, path, default=None):
        for prefix, handler in self.items():
            if path.startswith(prefix):
                return handler
        return default


@pytest.fixture(autouse=True)
def fresh_state_cache():
    """State group ids are reused after a test's rollback on SQLite: never carry cached groups over
    (autouse wherever it is imported: the conftest of a federation test folder)."""
    from apps.rooms import state_store

    state_store.clear_cache()
    yield
    state_store.clear_cache()


@pytest.fixture
def remote_hs(tls_server, db):
    """A remote homeserver on loopback (`127.0.0.1:<port>`), its routes matched by path prefix."""
    server = tls_server()
    server.routes = PrefixRoutes()
    return server


@pytest.fixture
def remote_server(remote_hs):
    """(LoopbackServer, FakeRemote) of one remote homeserver on loopback: the server answering this
    server's requests, and the signing remote that makes its events."""
    from tests.api.federation.remote import FakeRemote

    return remote_hs, FakeRemote(remote_hs.server_name)


@pytest.fixture
def no_dns(monkeypatch):
    """Fails the test on any name resolution other than of an IP literal (what connecting to an
    address does internally); records every call."""
    from apps.core import outbound

    calls = []
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        calls.append(host)
        if outbound.parse_ip(str(host)) is None:
            raise AssertionError(f"getaddrinfo({host!r}) called: a name was resolved")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return calls
