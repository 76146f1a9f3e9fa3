"""Signing identities: the local CA made on first use, a user's certificate, an HSM-style callback."""

from __future__ import annotations

import json
import stat
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from restore.errors import UserError
from restore.provenance import finalize_output
from restore.provenance.identity import (
    LOCAL_CA_STATEMENT,
    create_local_ca,
    local_identity,
    signing_identity,
    user_identity,
)
from restore.provenance.record import sidecar_paths
from restore.provenance.verify import verify_output
from tests.provenance.conftest import fresh_copy, runner_record


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_creates_a_local_ca_with_private_keys_0600(config_dir):
    identity = signing_identity()
    folder = config_dir / "identity"
    assert identity.kind == "local-ca" and identity.alg == "es256"
    assert _mode(folder) == 0o700
    assert _mode(folder / "ca.key") == 0o600 and _mode(folder / "signer.key") == 0o600
    leaf, root = x509.load_pem_x509_certificates((folder / "signer-chain.pem").read_bytes())
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert leaf.issuer == root.subject and leaf.subject != leaf.issuer      # not self-signed: c2pa refuses those
    leaf.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # Second use: the same identity, not a new CA.
    assert signing_identity().describe()["sha256_fingerprint"] == identity.describe()["sha256_fingerprint"]
    assert identity.describe()["statement"] == LOCAL_CA_STATEMENT


def test_private_key_never_enters_the_record(clips, tmp_path, config_dir):
    output = fresh_copy(clips["access"], tmp_path)
    result = finalize_output(output, clips["source"], runner_record())
    key = serialization.load_pem_private_key((config_dir / "identity" / "signer.key").read_bytes(), None)
    secret = format(key.private_numbers().private_value, "x")
    key_body = (config_dir / "identity" / "signer.key").read_text().splitlines()[1]
    for path in (result["provenance"], result["premis"]):
        text = path.read_text()
        assert secret not in text and key_body not in text and "PRIVATE KEY" not in text
    signer = json.loads(result["provenance"].read_text())["record"]["signer"]
    assert signer["kind"] == "local-ca" and "integrity" in signer["statement"]


def test_partial_identity_is_refused_not_overwritten(config_dir):
    folder = config_dir / "identity"
    folder.mkdir(parents=True)
    (folder / "ca.key").write_text("left over")
    with pytest.raises(UserError, match="partial local identity"):
        local_identity()
    assert (folder / "ca.key").read_text() == "left over"


def _institution(tmp_path):
    """Stands in for an institution's PKI: its own CA and signer, outside restore's config folder."""
    folder = tmp_path / "institution"
    create_local_ca(folder, host_label="Example Film Archive")
    return folder


def test_user_certificate_from_environment_is_used(clips, tmp_path, config_dir, monkeypatch):
    pki = _institution(tmp_path)
    monkeypatch.setenv("RESTORE_SIGN_CERT", str(pki / "signer-chain.pem"))
    monkeypatch.setenv("RESTORE_SIGN_KEY", str(pki / "signer.key"))
    output = fresh_copy(clips["master"], tmp_path / "out")
    finalize_output(output, clips["source"], runner_record())
    assert not (config_dir / "identity").exists()          # no local CA when the user brings a certificate
    signer = json.loads(sidecar_paths(output)["provenance"].read_text())["record"]["signer"]
    assert signer["kind"] == "user" and "Example Film Archive" in signer["subject"]
    assert "statement" not in signer
    untrusted = verify_output(output, decode=False)
    assert untrusted.exit_code == 1 and [c.name for c in untrusted.checks if c.ok is False] == ["c2pa trust chain"]
    assert verify_output(output, [pki / "ca.pem"]).exit_code == 0
    monkeypatch.setenv("RESTORE_TRUST_ANCHORS", str(pki / "ca.pem"))
    assert verify_output(output, decode=False).exit_code == 0


def test_user_certificate_from_signing_yaml(tmp_path, config_dir, caplog):
    pki = _institution(tmp_path)
    config_dir.mkdir(parents=True)
    (config_dir / "signing.yaml").write_text(
        f"cert: {pki / 'signer-chain.pem'}\nkey: {pki / 'signer.key'}\ntrust_anchors: [{pki / 'ca.pem'}]\n")
    identity = user_identity()
    assert identity.kind == "user" and identity.alg == "es256"
    assert not caplog.records
    (pki / "signer.key").chmod(0o644)
    user_identity()
    assert "readable by other users" in caplog.text
    (config_dir / "signing.yaml").write_text("cert: x.pem\nkee: y.pem\n")
    with pytest.raises(UserError, match="unknown key"):
        user_identity()


def test_callback_signer_for_hsm_or_kms(clips, tmp_path, monkeypatch):
    """The key stays in 'the HSM' (a module here); restore only hands it bytes to sign."""
    pki = _institution(tmp_path)
    module = tmp_path / "fake_hsm.py"
    module.write_text(
        "from cryptography.hazmat.primitives import hashes, serialization\n"
        "from cryptography.hazmat.primitives.asymmetric import ec\n"
        f"KEY = serialization.load_pem_private_key(open({str(pki / 'signer.key')!r}, 'rb').read(), None)\n"
        "CALLS = []\n"
        "def sign(data):\n"
        "    CALLS.append(len(data))\n"
        "    return KEY.sign(data, ec.ECDSA(hashes.SHA256()))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("RESTORE_SIGN_CERT", str(pki / "signer-chain.pem"))
    monkeypatch.setenv("RESTORE_SIGN_CALLBACK", "fake_hsm:sign")
    output = fresh_copy(clips["access"], tmp_path / "out")
    finalize_output(output, clips["source"], runner_record())
    assert sys.modules["fake_hsm"].CALLS                   # the callback did the signing
    assert verify_output(output, [pki / "ca.pem"]).exit_code == 0
