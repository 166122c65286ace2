"""Ed25519 keys and signatures for bundles.

Private keys are PEM (PKCS#8, unencrypted) in files of mode 0600; public keys are PEM
(SubjectPublicKeyInfo). A signature is the raw 64-byte Ed25519 signature of the exact
bytes signed, so plain OpenSSL can check it::

    openssl pkeyutl -verify -pubin -inkey agent.pub -rawin -in manifest.json -sigfile manifest.sig
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from synthgate_shared.errors import SynthgateError
from synthgate_shared.files import atomic_output, refuse_overwrite, write_text_atomic

PRIVATE_SUFFIX = ".pem"
PUBLIC_SUFFIX = ".pub"
SIGNATURE_BYTES = 64


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _write_private_pem(path: Path, pem: bytes) -> None:
    """Write ``pem`` atomically to a file that is mode 0600 from its creation on (no other
    user can ever open it, not even between creation and rename)."""
    with atomic_output(path, "wb", encoding=None, permissions=0o600) as handle:
        handle.write(pem)


def generate_keypair(stem: Path, force: bool = False) -> tuple[Path, Path]:
    """Create a new Ed25519 key pair as ``<stem>.pem`` (private, 0600) and ``<stem>.pub``.

    Refuses to overwrite either file unless ``force``. Returns (private path, public path).
    """
    stem = Path(stem)
    private_path = stem.with_name(stem.name + PRIVATE_SUFFIX)
    public_path = stem.with_name(stem.name + PUBLIC_SUFFIX)
    refuse_overwrite(private_path, force)
    refuse_overwrite(public_path, force)
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_private_pem(private_path, private_pem)
    write_text_atomic(public_path, public_pem.decode("ascii"))
    return private_path, public_path


def _read_key_file(path: Path, kind: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        fix = "create a key pair with `synthgate-agent keygen`" if kind == "private" else (
            "ask the key's owner for the public key file (.pub)"
        )
        raise SynthgateError(f"{kind} key file not found", where=str(path), fix=fix) from None
    except IsADirectoryError:
        raise SynthgateError(f"expected a {kind} key file, found a folder",
                             where=str(path)) from None
    except PermissionError:
        raise SynthgateError(f"cannot read the {kind} key file (permission denied)",
                             where=str(path)) from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PEM, PKCS#8, unencrypted).

    Refuses a file that group or others may read (it would leak the key), a public key given
    in its place, and any key that is not Ed25519, each with a one-line error and a fix.
    """
    path = Path(path)
    data = _read_key_file(path, "private")
    if b"PUBLIC KEY-----" in data:
        raise SynthgateError(
            "this is a public key, but a private key is needed to sign", where=str(path),
            fix=f"give the private key file ({PRIVATE_SUFFIX}) made by keygen",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SynthgateError(
            f"private key file is readable by other users (mode {mode:04o})", where=str(path),
            fix=f"run `chmod 600 {path}`",
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SynthgateError("encrypted private keys are not supported", where=str(path),
                             fix="use a key made by `synthgate-agent keygen`") from None
    except (ValueError, UnsupportedAlgorithm):
        raise SynthgateError("not a PEM private key", where=str(path),
                             fix="use a key made by `synthgate-agent keygen`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SynthgateError(f"not an Ed25519 key ({type(key).__name__})", where=str(path),
                             fix="use a key made by `synthgate-agent keygen`")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key (PEM SubjectPublicKeyInfo); a private key here is refused."""
    path = Path(path)
    data = _read_key_file(path, "public")
    if b"PRIVATE KEY-----" in data:
        raise SynthgateError(
            "this is a private key; only public keys are trusted", where=str(path),
            fix=f"give the public key file ({PUBLIC_SUFFIX}) and keep the private key secret",
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise SynthgateError("not a PEM public key", where=str(path),
                             fix=f"give the {PUBLIC_SUFFIX} file made by keygen") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SynthgateError(f"not an Ed25519 key ({type(key).__name__})", where=str(path))
    return key


def load_public_keys(paths: Sequence[Path]) -> list[Ed25519PublicKey]:
    """Read several public keys (see ``load_public_key``)."""
    return [load_public_key(p) for p in paths]


def sign(private_key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The raw 64-byte Ed25519 signature of ``data`` (same key and data, same bytes)."""
    return private_key.sign(data)


def verify_signature(public_key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``data`` by ``public_key``."""
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
