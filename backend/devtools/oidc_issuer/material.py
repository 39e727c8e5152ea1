"""The issuer's key and certificate material, kept in a state directory.

A private CA signs the server certificate, so clients verify TLS for real; the RS256
signing key signs the tokens. Everything is created on first use and reused afterwards, so
tokens minted before a restart stay valid when the issuer comes back on the same port.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

# Files kept in state_dir. Private keys are written with mode 0600.
CA_KEY_FILE = "ca_key.pem"
CA_CERT_FILE = "ca_cert.pem"
SERVER_KEY_FILE = "server_key.pem"
SERVER_CERT_FILE = "server_cert.pem"
SIGNING_KEY_FILE = "signing_key.pem"
CA_BUNDLE_FILE = "ca_bundle.pem"

# Names the server certificate always covers, whatever host is served.
_DEFAULT_CERT_HOSTS = ("localhost", "127.0.0.1", "::1")
_SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def prepare_state(state_dir: Path, host: str) -> rsa.RSAPrivateKey:
    """Load the material in ``state_dir``, creating whatever is missing or no longer fits
    (a server certificate that does not cover ``host``); return the signing key."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(state_dir):
        ca_key, ca_cert = _load_or_create_ca(state_dir)
        _ensure_server_cert(state_dir, host, ca_key, ca_cert)
        signing_key = _load_or_create_signing_key(state_dir)
        _write_ca_bundle(state_dir / CA_BUNDLE_FILE, ca_cert)
    return signing_key


def public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The public half of ``key`` as a JWK (without kid)."""
    numbers = key.public_key().public_numbers()

    def encode(n: int) -> str:
        return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "n": encode(numbers.n), "e": encode(numbers.e)}


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint: a kid that is stable for as long as the key is."""
    canonical = json.dumps(
        {name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


# -- state ---------------------------------------------------------------------


def _load_or_create_ca(state_dir: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key_file = state_dir / CA_KEY_FILE
    cert_file = state_dir / CA_CERT_FILE
    try:
        key = _load_rsa_key(key_file)
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        if cert.public_key() == key.public_key() and _still_valid(cert, dt.timedelta(0)):
            return key, cert
    except (OSError, ValueError, TypeError):
        pass
    logger.info("Creating a new local CA in %s", state_dir)
    key = _new_rsa_key()
    cert = _issue_ca(key)
    _write_atomic(key_file, _key_pem(key), mode=0o600)
    _write_atomic(cert_file, _cert_pem(cert))
    return key, cert


def _ensure_server_cert(
    state_dir: Path, host: str, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate
) -> None:
    """Reuse the server certificate unless it no longer fits (new CA, host, expiry)."""
    key_file = state_dir / SERVER_KEY_FILE
    cert_file = state_dir / SERVER_CERT_FILE
    try:
        key = _load_rsa_key(key_file)
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        cert.verify_directly_issued_by(ca_cert)
        if (
            cert.public_key() == key.public_key()
            and _cert_covers(cert, host)
            and _still_valid(cert, dt.timedelta(days=1))
        ):
            return
    except (OSError, ValueError, TypeError, InvalidSignature):
        pass
    hosts = list(_DEFAULT_CERT_HOSTS)
    if host not in hosts:
        hosts.append(host)
    key = _new_rsa_key()
    cert = _issue_server_cert(key, ca_key, ca_cert, hosts)
    _write_atomic(key_file, _key_pem(key), mode=0o600)
    _write_atomic(cert_file, _cert_pem(cert))


def _load_or_create_signing_key(state_dir: Path) -> rsa.RSAPrivateKey:
    path = state_dir / SIGNING_KEY_FILE
    if path.exists():
        # Deliberately no silent regeneration: that would invalidate every
        # token minted so far, so a broken file should fail loudly.
        return _load_rsa_key(path)
    key = _new_rsa_key()
    _write_atomic(path, _key_pem(key), mode=0o600)
    return key


def _write_ca_bundle(path: Path, ca_cert: x509.Certificate) -> None:
    data = _cert_pem(ca_cert)
    system = _system_ca_bundle()
    if system is not None:
        data += b"\n" + system.read_bytes()
    if not path.exists() or path.read_bytes() != data:
        _write_atomic(path, data)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Serialise key generation between processes sharing a state_dir (e.g. xdist workers)."""
    with open(state_dir / ".lock", "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via temp file + rename, so a concurrent reader never sees half a PEM."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# -- keys and certificates -----------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_rsa_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA private key")
    return key


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _issue_ca(key: rsa.RSAPrivateKey) -> x509.Certificate:
    # A random suffix keeps CAs of different state dirs apart by name, so a
    # bundle trusting one of them never "almost" matches another.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "eosc-performance local development"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Local OIDC issuer CA {secrets.token_hex(4)}"),
        ]
    )
    return _certificate(name, name, key, days=3650, ca=True).sign(key, hashes.SHA256())


def _issue_server_cert(
    key: rsa.RSAPrivateKey,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    hosts: list[str],
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    return (
        _certificate(subject, ca_cert.subject, key, days=397, ca=False)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _certificate(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey, *, days: int, ca: bool
) -> x509.CertificateBuilder:
    """What the CA and the server certificate both hold: valid from yesterday for ``days``,
    usable to sign certificates (``ca``) or for TLS, with the key's identifier."""
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=not ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _cert_covers(cert: x509.Certificate, host: str) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        return ipaddress.ip_address(host) in san.get_values_for_type(x509.IPAddress)
    except ValueError:
        return host.lower() in (name.lower() for name in san.get_values_for_type(x509.DNSName))


def _still_valid(cert: x509.Certificate, margin: dt.timedelta) -> bool:
    return cert.not_valid_after_utc - _now() > margin


def _system_ca_bundle() -> Path | None:
    try:
        import certifi
    except ImportError:
        pass
    else:
        return Path(certifi.where())
    return _SYSTEM_CA_BUNDLE if _SYSTEM_CA_BUNDLE.is_file() else None
