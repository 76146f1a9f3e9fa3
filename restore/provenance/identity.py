"""Who signs: a user's certificate (PEM files or an HSM/KMS callback), or a local CA made on first use.

A C2PA signature is only as meaningful as the certificate behind it. An institution
supplies its own chain (``signing.yaml`` in the config folder or ``RESTORE_SIGN_*``
variables). Without one, ``restore`` creates a private CA and a signer certificate in
the user's config folder: that proves the file was not changed since it was signed
on this machine (integrity), not *who* signed it (identity). c2pa rejects a
self-signed leaf, hence the two-level chain; the CA's root is trusted by ``verify``.

Private keys are written 0600 in a 0700 folder and never leave this module: records
and logs only ever see the certificate's subject, issuer and fingerprint.
"""

from __future__ import annotations

import datetime
import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from restore import safeyaml
from restore.errors import UserError

log = logging.getLogger(__name__)
LOCAL_CA_STATEMENT = (
    "signed with a local certificate made by restore on this machine: "
    "it proves the file is unchanged since signing (integrity), not who signed it (identity)"
)
# id-kp-documentSigning (RFC 9336); c2pa accepts it alongside emailProtection.
DOCUMENT_SIGNING_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
IDENTITY_FOLDER = "identity"
SIGNING_CONFIG = "signing.yaml"


def config_dir() -> Path:
    """$RESTORE_CONFIG_DIR, else $XDG_CONFIG_HOME/restore, else ~/.config/restore."""
    explicit = os.environ.get("RESTORE_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "restore"


@dataclass
class SigningIdentity:
    """What c2pa needs to sign, plus the public facts a record may carry."""

    kind: str                                   # "user" | "user-callback" | "local-ca"
    alg: str                                    # es256 | es384 | es512 | ps256 | ed25519 …
    chain_pem: bytes                            # leaf first, then intermediates
    key_pem: bytes | None = field(default=None, repr=False)
    callback: Callable[[bytes], bytes] | None = field(default=None, repr=False)
    tsa_url: str | None = None

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]

    def describe(self) -> dict:
        """Public facts only: safe for a provenance record and a log."""
        leaf = self.leaf
        def common_name(name: x509.Name) -> str:
            values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
            return str(values[0].value) if values else name.rfc4514_string()

        facts = {
            "kind": self.kind,
            "common_name": common_name(leaf.subject),
            "issuer_common_name": common_name(leaf.issuer),
            "alg": self.alg,
            "subject": leaf.subject.rfc4514_string(),
            "issuer": leaf.issuer.rfc4514_string(),
            "serial": format(leaf.serial_number, "x"),
            "sha256_fingerprint": leaf.fingerprint(hashes.SHA256()).hex(),
            "not_after": leaf.not_valid_after_utc.isoformat(),
        }
        if self.kind == "local-ca":
            facts["statement"] = LOCAL_CA_STATEMENT
        return facts


def algorithm_for_key(key) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey) or isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name, "")
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "ps256"
    return ""


def _read_pem(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the signing {what} {path}: {exc.strerror}") from None
    if b"-----BEGIN" not in data:
        raise UserError(f"the signing {what} {path} is not PEM")
    return data


def _load_callback(spec: str) -> Callable[[bytes], bytes]:
    """'package.module:function' → a callable that signs bytes (an HSM or KMS client)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UserError(f"signing callback must be 'module:function', got {spec!r}")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"cannot load the signing callback {spec}: {exc}") from None
    if not callable(target):
        raise UserError(f"signing callback {spec} is not callable")
    return target


def _user_settings() -> dict:
    """Signing settings from the environment, else from signing.yaml in the config folder."""
    env = {
        "cert": os.environ.get("RESTORE_SIGN_CERT"),
        "key": os.environ.get("RESTORE_SIGN_KEY"),
        "callback": os.environ.get("RESTORE_SIGN_CALLBACK"),
        "alg": os.environ.get("RESTORE_SIGN_ALG"),
        "tsa_url": os.environ.get("RESTORE_SIGN_TSA_URL"),
    }
    if env["cert"]:
        return {k: v for k, v in env.items() if v}
    path = config_dir() / SIGNING_CONFIG
    if not path.is_file():
        return {}
    try:
        settings = safeyaml.load(path.read_text()) or {}
    except safeyaml.YamlLimitError as exc:
        raise UserError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(settings, dict):
        raise UserError(f"{path} must be a mapping (cert, key or callback, alg, tsa_url, trust_anchors)")
    unknown = set(settings) - {"cert", "key", "callback", "alg", "tsa_url", "trust_anchors"}
    if unknown:
        raise UserError(f"{path}: unknown key(s) {', '.join(sorted(safeyaml.brief(k) for k in unknown))}")
    return settings


def user_identity() -> SigningIdentity | None:
    """The user's own certificate, when configured; None otherwise."""
    settings = _user_settings()
    if not settings.get("cert"):
        return None
    chain_pem = _read_pem(Path(settings["cert"]).expanduser(), "certificate chain")
    try:
        leaf = x509.load_pem_x509_certificates(chain_pem)[0]
    except ValueError as exc:
        raise UserError(f"cannot parse the signing certificate {settings['cert']}: {exc}") from None
    alg = (settings.get("alg") or algorithm_for_key(leaf.public_key())).lower()
    if not alg:
        raise UserError("cannot tell the signing algorithm from the certificate's key: "
                        "set alg (es256, ps256, ed25519 …)")
    tsa_url = settings.get("tsa_url")
    if settings.get("callback"):
        return SigningIdentity("user-callback", alg, chain_pem, callback=_load_callback(settings["callback"]),
                               tsa_url=tsa_url)
    if not settings.get("key"):
        raise UserError("a signing certificate was given without its key (RESTORE_SIGN_KEY or 'key' in signing.yaml)")
    key_path = Path(settings["key"]).expanduser()
    if key_path.exists() and key_path.stat().st_mode & 0o077:
        log.warning("signing key %s is readable by other users: chmod 600 it", key_path)
    return SigningIdentity("user", alg, chain_pem, key_pem=_read_pem(key_path, "key"), tsa_url=tsa_url)


def _write_private(path: Path, data: bytes) -> None:
    """Create a file only its owner can read; refuse to reuse an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # the umask may have been stricter; never looser


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "restore (unverified local identity)"),
    ])


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=not signing,
        crl_sign=not signing, encipher_only=False, decipher_only=False)


def create_local_ca(folder: Path, *, host_label: str | None = None) -> None:
    """A root CA (pathlen 0) and one ES256 signer certificate beneath it, written into folder."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    label = host_label or os.uname().nodename
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"restore local CA ({label})")
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_cert = (
        x509.CertificateBuilder().subject_name(_name(f"restore local signer ({label})"))
        .issuer_name(ca_name).public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        # As long as the CA: without a timestamp authority, a signature is judged against
        # the certificate's validity, and archives keep files for longer than two years.
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # Keys first, so that a crash never leaves certificates without their keys.
    _write_private(folder / "ca.key", _pem_key(ca_key))
    _write_private(folder / "signer.key", _pem_key(signer_key))
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (folder / "signer-chain.pem").write_bytes(signer_cert.public_bytes(pem) + ca_cert.public_bytes(pem))


def local_identity(create: bool = True) -> SigningIdentity | None:
    folder = config_dir() / IDENTITY_FOLDER
    chain, key = folder / "signer-chain.pem", folder / "signer.key"
    if not (chain.is_file() and key.is_file()):
        if not create:
            return None
        if folder.exists():
            raise UserError(f"{folder} holds a partial local identity: move it aside and run again")
        # Built beside and renamed into place: two first runs at once must not mix their keys.
        staging = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        create_local_ca(staging)
        try:
            os.rename(staging, folder)
        except OSError:  # another process won the race: use its identity
            for leftover in staging.iterdir():
                leftover.unlink()
            staging.rmdir()
    return SigningIdentity("local-ca", "es256", chain.read_bytes(), key_pem=key.read_bytes())


def signing_identity() -> SigningIdentity:
    """The user's certificate when configured, else the local CA's signer (made on first use)."""
    return user_identity() or local_identity(create=True)


def trust_anchor_pems(extra: list[Path] | tuple[Path, ...] = ()) -> list[bytes]:
    """Root certificates verify trusts: the local CA, configured anchors, and any given here."""
    paths: list[Path] = [Path(p) for p in extra]
    env = os.environ.get("RESTORE_TRUST_ANCHORS")
    if env:
        paths += [Path(p) for p in env.split(os.pathsep) if p]
    settings = _user_settings()
    anchors = settings.get("trust_anchors") or []
    if isinstance(anchors, str):
        anchors = [anchors]
    paths += [Path(p).expanduser() for p in anchors]
    pems = [_read_pem(p, "trust anchor") for p in paths]
    local_root = config_dir() / IDENTITY_FOLDER / "ca.pem"
    if local_root.is_file():
        pems.append(local_root.read_bytes())
    return pems
