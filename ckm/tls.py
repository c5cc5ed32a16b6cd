"""TLS for a center on a real LAN: the lab certificate maker (`ckm tls self-signed`) and the
server-side SSL context `ckm run` serves HTTPS with.

Browsers give the softphone a microphone only in a secure context, so consultants on other
workstations need the desk over https:// and SIP over wss://. For a lab or a pilot, ckm makes a
small local CA and a server certificate signed by it; the CA certificate is what an admin
installs on the workstations (once: a later run with more names keeps the same CA). Production
uses the city's own certificate: set `tls_cert` and `tls_key` to its files.

Files, under `{data_dir}/tls/`: `ca.pem` (public, to distribute), `ca.key` (0600, only to sign
again), `server.pem` (the server certificate followed by the CA, i.e. the chain a server sends),
`server.key` (0600). Their paths go to `var/ckm.local.toml` as `tls_cert` / `tls_key`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ground.settings import Settings, SettingsError, record_local

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest lifetime browsers accept for a server certificate


@dataclass(frozen=True)
class LabCertificates:
    ca: Path
    ca_key: Path
    cert: Path
    key: Path
    dns_names: tuple[str, ...]
    ips: tuple[str, ...]
    new_ca: bool


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(path)


def make_lab_certificates(folder: Path, *, hosts: list[str] | None = None,
                          ips: list[str] | None = None, now: datetime | None = None
                          ) -> LabCertificates:
    """A local CA (kept if `folder` has one) and a server certificate for `hosts` and `ips`
    plus localhost / 127.0.0.1 / ::1, signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, ca_key_path = folder / "ca.pem", folder / "ca.key"
    cert_path, key_path = folder / "server.pem", folder / "server.key"

    dns_names: list[str] = []
    for name in [*(hosts or []), "localhost"]:
        name = name.strip().lower().rstrip(".")
        if not name:
            continue
        try:
            name.encode("ascii")
        except UnicodeEncodeError:
            name = name.encode("idna").decode("ascii")
        if name not in dns_names:
            dns_names.append(name)
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for raw in [*(ips or []), "127.0.0.1", "::1"]:
        try:
            addr = ipaddress.ip_address(raw.strip())
        except ValueError:
            raise SettingsError(f"--ip {raw!r} is not an IP address") from None
        if addr not in addresses:
            addresses.append(addr)

    new_ca = not (ca_path.is_file() and ca_key_path.is_file())
    if new_ca:
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ckm 19115 lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ckm lab CA ({socket.gethostname()})"),
        ])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_path, ca_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        _write_public(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    else:
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise SettingsError(f"{ca_key_path}: not the RSA key ckm makes; move the folder away")
        ca_key = loaded

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    common = dns_names[0] if dns_names else str(addresses[0])
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(a) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM)
                  + ca_cert.public_bytes(serialization.Encoding.PEM))
    return LabCertificates(ca=ca_path, ca_key=ca_key_path, cert=cert_path, key=key_path,
                           dns_names=tuple(dns_names), ips=tuple(str(a) for a in addresses),
                           new_ca=new_ca)


def spki_sha256(cert_pem: bytes) -> str:
    """base64 SHA-256 of the first certificate's public key (what certificate pinning and
    Chromium's --ignore-certificate-errors-spki-list name a key by)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """The SSL context of the web server, or None for plain HTTP (no tls_cert/tls_key)."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    for name, path in (("tls_cert", settings.tls_cert), ("tls_key", settings.tls_key)):
        if not path.is_file():
            raise SettingsError(f"setting {name}: {path} does not exist "
                                "(`ckm tls self-signed` makes a lab certificate)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(f"settings tls_cert / tls_key: cannot load "
                            f"{settings.tls_cert} with {settings.tls_key}: {exc}") from None
    return context


# --- `ckm tls` ---------------------------------------------------------------------------------
def register(sub: Any) -> None:
    tls = sub.add_parser("tls", help="TLS certificates for HTTPS and WSS")
    tls_sub = tls.add_subparsers(dest="tls_command", metavar="SUBCOMMAND", required=True)
    lab = tls_sub.add_parser(
        "self-signed", help="make a local CA and a server certificate, and use them",
        description="Makes (or keeps) a local CA under {data_dir}/tls, signs a server "
                    "certificate for the names and addresses given (plus this host's name, "
                    "localhost and 127.0.0.1), and records tls_cert / tls_key in "
                    "var/ckm.local.toml: the next `ckm run` serves HTTPS and WSS.")
    lab.add_argument("--host", action="append", default=[], metavar="NAME",
                     help="a DNS name browsers use for this machine (repeatable)")
    lab.add_argument("--ip", action="append", default=[], metavar="ADDR",
                     help="an IP address browsers use for this machine (repeatable)")
    lab.set_defaults(handler=_self_signed)


def _self_signed(args: argparse.Namespace, settings: Settings) -> int:
    hosts = [*args.host, socket.gethostname()]
    made = make_lab_certificates(settings.data_dir / "tls", hosts=hosts, ips=args.ip)
    local = record_local(settings, tls_cert=str(made.cert.resolve()),
                         tls_key=str(made.key.resolve()))
    print(f"{'new' if made.new_ca else 'kept the'} local CA: {made.ca.resolve()}\n"
          f"  install it on every workstation (browser / system trust store) once;\n"
          f"  its key {made.ca_key.resolve()} stays here (0600)\n"
          f"server certificate: {made.cert.resolve()} (key {made.key.resolve()}, 0600)\n"
          f"  names: {', '.join(made.dns_names)}\n"
          f"  addresses: {', '.join(made.ips)}\n"
          f"recorded tls_cert and tls_key in {local}: the next `ckm run` serves "
          f"https://<host>:{settings.web_port}/ and wss://<host>:{settings.asterisk_tls_port}/ws",
          flush=True)
    return 0
