"""Ed25519 keys and signatures: key files, their permissions, and checks with plain OpenSSL."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from synthgate_shared.errors import SynthgateError
from synthgate_shared.signing import (
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    sign,
    verify_signature,
)


def test_keygen_writes_private_key_0600_and_public_key(tmp_path: Path) -> None:
    old = os.umask(0)  # even the most permissive umask must not widen the private key
    try:
        private_path, public_path = generate_keypair(tmp_path / "keys" / "agent")
    finally:
        os.umask(old)
    assert private_path.name == "agent.pem" and public_path.name == "agent.pub"
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert private_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    private_key, public_key = load_private_key(private_path), load_public_key(public_path)
    assert key_id(private_key.public_key()) == key_id(public_key)
    assert len(key_id(public_key)) == 16 and int(key_id(public_key), 16) >= 0
    assert sorted(p.name for p in private_path.parent.iterdir()) == ["agent.pem", "agent.pub"]


def test_keygen_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    private_path, _ = generate_keypair(tmp_path / "agent")
    first = private_path.read_bytes()
    with pytest.raises(SynthgateError, match=r"already exists.*--force"):
        generate_keypair(tmp_path / "agent")
    assert private_path.read_bytes() == first
    generate_keypair(tmp_path / "agent", force=True)
    assert private_path.read_bytes() != first
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600


def test_sign_and_verify(tmp_path: Path) -> None:
    private_path, public_path = generate_keypair(tmp_path / "agent")
    key, public = load_private_key(private_path), load_public_key(public_path)
    signature = sign(key, b"manifest bytes")
    assert len(signature) == 64 and signature == sign(key, b"manifest bytes")
    assert verify_signature(public, b"manifest bytes", signature)
    assert not verify_signature(public, b"manifest bytes!", signature)
    other = load_public_key(generate_keypair(tmp_path / "other")[1])
    assert not verify_signature(other, b"manifest bytes", signature)


def test_missing_key_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SynthgateError, match=r"nope\.pem: private key file not found.*keygen"):
        load_private_key(tmp_path / "nope.pem")
    with pytest.raises(SynthgateError, match=r"nope\.pub: public key file not found"):
        load_public_key(tmp_path / "nope.pub")


def test_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    private_path, _ = generate_keypair(tmp_path / "agent")
    private_path.chmod(0o644)
    with pytest.raises(SynthgateError) as info:
        load_private_key(private_path)
    message = str(info.value)
    assert "readable by other users (mode 0644)" in message
    assert f"chmod 600 {private_path}" in message
    private_path.chmod(0o640)
    with pytest.raises(SynthgateError, match=r"mode 0640"):
        load_private_key(private_path)


def test_public_key_where_a_private_key_is_needed(tmp_path: Path) -> None:
    _, public_path = generate_keypair(tmp_path / "reviewer")
    with pytest.raises(SynthgateError, match=r"this is a public key.*private key file"):
        load_private_key(public_path)


def test_private_key_where_a_public_key_is_needed(tmp_path: Path) -> None:
    private_path, _ = generate_keypair(tmp_path / "agent")
    with pytest.raises(SynthgateError, match=r"this is a private key"):
        load_public_key(private_path)


def test_not_a_key_and_not_ed25519(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    junk.chmod(0o600)
    with pytest.raises(SynthgateError, match=r"not a PEM private key"):
        load_private_key(junk)
    with pytest.raises(SynthgateError, match=r"not a PEM public key"):
        load_public_key(junk)
    rsa = generate_private_key(public_exponent=65537, key_size=2048)
    rsa_path = tmp_path / "rsa.pem"
    rsa_path.write_bytes(rsa.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    rsa_path.chmod(0o600)
    with pytest.raises(SynthgateError, match=r"not an Ed25519 key"):
        load_private_key(rsa_path)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl binary is not installed")
def test_signature_checks_with_plain_openssl(tmp_path: Path) -> None:
    private_path, public_path = generate_keypair(tmp_path / "agent")
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(b'{"format": "synthgate-bundle", "format_version": 1}\n')
    sig = tmp_path / "manifest.sig"
    sig.write_bytes(sign(load_private_key(private_path), manifest.read_bytes()))
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public_path), "-rawin",
               "-in", str(manifest), "-sigfile", str(sig)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Signature Verified Successfully" in done.stdout
    manifest.write_bytes(manifest.read_bytes().replace(b"1", b"2"))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    # and OpenSSL reads the private key file as a standard PKCS#8 Ed25519 key
    done = subprocess.run(["openssl", "pkey", "-in", str(private_path), "-pubout"],
                          capture_output=True, text=True, check=True)
    assert done.stdout == public_path.read_text()
