"""The bundle format, version 1: what crosses the air gap, signed and checkable.

``bundle.tar.gz`` holds one folder (``synthgate-bundle/``) with ``manifest.json``,
``manifest.sig`` (Ed25519 signature of the exact manifest bytes), optional
``approvals/<key id>.sig`` (reviewer countersignatures of the same bytes), ``config.yaml``,
``orm.yaml``, ``src-stats.yaml`` and ``vocab/<table>.yaml[.gz]``.

The tarball is deterministic: members sorted by name, regular files only, owner 0/0 with
empty names, mode 0644, every mtime equal to the manifest's creation time, gzip with
mtime 0 and no file name. The creation time is an explicit option, else
``SOURCE_DATE_EPOCH``, else the newest modification time of the input files (whole
seconds), so bundling the same files twice gives the same bytes.

``verify_bundle`` reads the archive as a stream, never extracts anything before every
check has passed, and refuses (with a ``SynthgateError`` naming the member) anything the
design handbook lists. Any change to what the file holds is caught: the gzip header must be
the canonical one, the gzip CRC and length cover the whole tar stream, nothing may follow
the gzip stream, and every member's SHA-256 is in the signed manifest. (Deflate has a few
slack bits, such as the padding of its last byte, whose value changes no decompressed byte.)
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from isal import isal_zlib

from synthgate_shared.errors import SynthgateError
from synthgate_shared.files import atomic_output
from synthgate_shared.signing import SIGNATURE_BYTES, key_id, sign, verify_signature
from synthgate_shared.tarscan import CHUNK as _CHUNK
from synthgate_shared.tarscan import DEFAULT_LIMITS, TOP_FOLDER, Limits, scan

FORMAT_NAME = "synthgate-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
DOCUMENTS = ("config.yaml", "orm.yaml", "src-stats.yaml")
VOCAB_FOLDER = "vocab"
# optional in a file entry of format version 1: the decompressed size of a gzip member
UNCOMPRESSED = "uncompressed_size"
# zlib's default level: nearly the size of level 9 in a third of the time
GZIP_LEVEL = 6

_APPROVAL_RE = re.compile(r"approvals/([0-9a-f]{16})\.sig")
_VOCAB_RE = re.compile(r"vocab/([^/\\]+)\.yaml(?:\.gz)?")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class FileEntry:
    """One file of the manifest: its path inside the bundle folder, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Approval:
    """A reviewer countersignature found in the bundle.

    ``status`` is ``valid`` (checked with a known key), ``invalid`` (a known key, but the
    signature does not match this manifest) or ``unchecked`` (no key given for it).
    """

    key_id: str
    status: str


# ---------------------------------------------------------------------------- paths


def _is_content_path(rel: str) -> bool:
    return rel in DOCUMENTS or bool(_VOCAB_RE.fullmatch(rel) and ".." not in rel.split("/"))


# ---------------------------------------------------------------------------- manifest


def file_entry(rel: str, path: Path) -> FileEntry:
    """Size and SHA-256 of ``path`` (streamed), recorded as bundle path ``rel``."""
    digest = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(rel, size, digest.hexdigest())


def uncompressed_size(path: Path) -> int:
    """The decompressed size of the gzip file ``path`` (every member), streamed in bounded
    pieces."""
    total = 0
    inflater = isal_zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    with Path(path).open("rb") as handle:
        data = b""
        while data or (data := handle.read(_CHUNK)):
            total += len(inflater.decompress(data, _CHUNK))
            if inflater.eof:
                data = inflater.unused_data
                inflater = isal_zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                data = inflater.unconsumed_tail
    return total + len(inflater.flush())


def creation_time(inputs: Sequence[Path], override: datetime | None = None) -> datetime:
    """The bundle's creation time, in whole seconds, UTC.

    ``override`` wins, then the ``SOURCE_DATE_EPOCH`` environment variable (the
    reproducible-builds convention), then the newest modification time of ``inputs``.
    """
    if override is not None:
        moment = override if override.tzinfo else override.replace(tzinfo=UTC)
        return moment.astimezone(UTC).replace(microsecond=0)
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env:
        try:
            return datetime.fromtimestamp(int(env), UTC)
        except (ValueError, OverflowError):
            raise SynthgateError(f"SOURCE_DATE_EPOCH is not a number of seconds ({env!r})",
                                 fix="unset it or give an integer") from None
    newest = max((int(Path(p).stat().st_mtime) for p in inputs), default=0)
    return datetime.fromtimestamp(newest, UTC)


def build_manifest(
    entries: Sequence[FileEntry], *, agent_version: str, created_at: datetime,
    source: Mapping[str, Any], privacy: Mapping[str, Any], signer_key_id: str,
    source_role: Mapping[str, Any] | None = None,
    unpacked: Mapping[str, int] | None = None,
) -> bytes:
    """The exact bytes of ``manifest.json`` (stable key order, files sorted by path).

    ``source_role`` (optional, absent from older bundles): ``{"name": ..., "privileged":
    bool}``, the role the agent read the source as. ``unpacked`` gives the decompressed size
    of gzip files (the optional ``uncompressed_size`` field of a file entry, which readers use
    as the exact bound when they decompress)."""
    unpacked = unpacked or {}
    data = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "agent_version": agent_version,
        "created_at": created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "signer": {"algorithm": "ed25519", "key_id": signer_key_id},
        "source": dict(source),
        "files": [
            {"path": e.path, "size": e.size, "sha256": e.sha256,
             **({UNCOMPRESSED: unpacked[e.path]} if e.path in unpacked else {})}
            for e in sorted(entries, key=lambda e: e.path)
        ],
        "privacy": dict(privacy),
    }
    if source_role is not None:
        data["source_role"] = dict(source_role)
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _bad_manifest(what: str, where: str) -> SynthgateError:
    return SynthgateError(f"manifest.json {what}", where=where,
                          fix="the bundle is damaged or was not made by synthgate")


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """Parse and check the shape of ``manifest.json``; refuse an unknown format version."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad_manifest("is not UTF-8 text", where) from None
    except json.JSONDecodeError as exc:
        raise _bad_manifest(f"is not valid JSON ({exc.msg} at line {exc.lineno} column "
                            f"{exc.colno})", where) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise _bad_manifest(f"is not a {FORMAT_NAME} manifest", where)
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise SynthgateError(
            f"unsupported bundle format version {version!r} (this synthgate reads version "
            f"{FORMAT_VERSION})", where=where, fix="use the synthgate release that made it",
        )
    signer = manifest.get("signer")
    if not isinstance(signer, dict) or not isinstance(signer.get("key_id"), str):
        raise _bad_manifest("has no signer key id", where)
    files = manifest.get("files")
    if not isinstance(files, list):
        raise _bad_manifest("has no file list", where)
    seen: set[str] = set()
    for item in files:
        if not (isinstance(item, dict) and isinstance(item.get("path"), str)
                and isinstance(item.get("size"), int) and item["size"] >= 0
                and isinstance(item.get("sha256"), str) and _SHA256_RE.fullmatch(item["sha256"])):
            raise _bad_manifest(f"has a malformed file entry {item!r}", where)
        extra = item.get(UNCOMPRESSED)
        if UNCOMPRESSED in item and (isinstance(extra, bool) or not isinstance(extra, int)
                                     or extra < 0):
            raise _bad_manifest(f"has a malformed {UNCOMPRESSED} in {item['path']!r}", where)
        if not _is_content_path(item["path"]) or item["path"] in seen:
            raise _bad_manifest(f"lists an unexpected or repeated file {item['path']!r}", where)
        seen.add(item["path"])
    missing = [d for d in DOCUMENTS if d not in seen]
    if missing:
        raise _bad_manifest(f"does not list {missing[0]}", where)
    return manifest


# ---------------------------------------------------------------------------- writing


class _HashingReader:
    """A file wrapper that hashes what is read through it (to catch files changing under us)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.digest.update(data)
        return data


def _tar_info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


@contextlib.contextmanager
def _deterministic_tar(out_path: Path) -> Iterator[tarfile.TarFile]:
    """A tar writer into a gzip stream with a fixed header, renamed into place on success."""
    with (
        atomic_output(out_path, "wb", encoding=None) as handle,
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0,
                      compresslevel=GZIP_LEVEL) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        yield tar


def _changed(where: str) -> SynthgateError:
    return SynthgateError("file changed while the bundle was written", where=where,
                          fix="run the command again when nothing else writes to it")


def write_signed_bundle(
    out_path: Path, files: Mapping[str, Path], private_key: Ed25519PrivateKey, *,
    agent_version: str, created_at: datetime, source: Mapping[str, Any],
    privacy: Mapping[str, Any], source_role: Mapping[str, Any] | None = None,
) -> Path:
    """Write a signed, deterministic bundle of ``files`` (bundle path -> file on disk).

    ``files`` must hold ``config.yaml``, ``orm.yaml``, ``src-stats.yaml`` and only
    ``vocab/<table>.yaml[.gz]`` besides. The output appears only when complete.
    """
    for rel in files:
        if not _is_content_path(rel):
            raise SynthgateError(f"not a bundle file name: {rel!r}")
    for doc in DOCUMENTS:
        if doc not in files:
            raise SynthgateError(f"a bundle needs {doc}")
    entries = {rel: file_entry(rel, path) for rel, path in files.items()}
    unpacked = {rel: uncompressed_size(path) for rel, path in files.items()
                if rel.endswith(".gz")}
    manifest = build_manifest(
        list(entries.values()), agent_version=agent_version, created_at=created_at,
        source=source, privacy=privacy, signer_key_id=key_id(private_key.public_key()),
        source_role=source_role,
        unpacked=unpacked,
    )
    blobs = {MANIFEST: manifest, SIGNATURE: sign(private_key, manifest)}
    mtime = int(created_at.timestamp())
    with _deterministic_tar(out_path) as tar:
        for rel in sorted([*entries, *blobs]):
            name = f"{TOP_FOLDER}/{rel}"
            if rel in blobs:
                tar.addfile(_tar_info(name, len(blobs[rel]), mtime), io.BytesIO(blobs[rel]))
                continue
            with Path(files[rel]).open("rb") as handle:
                reader = _HashingReader(handle)
                tar.addfile(_tar_info(name, entries[rel].size, mtime), reader)
                if reader.digest.hexdigest() != entries[rel].sha256 or handle.read(1):
                    raise _changed(str(files[rel]))
    return Path(out_path)


# ---------------------------------------------------------------------------- reading


@dataclass
class _Contents:
    """What one pass over a bundle found: member hashes, small members' bytes, mtimes."""

    path: Path
    entries: dict[str, FileEntry] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    mtime: int = 0


def _is_document(rel: str) -> bool:
    return rel in (MANIFEST, SIGNATURE, *DOCUMENTS) or bool(_APPROVAL_RE.fullmatch(rel))


def _read_contents(path: Path, limits: Limits) -> _Contents:
    contents = _Contents(Path(path))

    def visit(rel: str, info: tarfile.TarInfo, fileobj: IO[bytes]) -> None:
        place = f"{path}: {info.name}"
        if rel == MANIFEST:
            contents.mtime = int(info.mtime)
        if _is_document(rel):
            cap = SIGNATURE_BYTES if rel.endswith(".sig") else limits.document_bytes
            if info.size > cap:
                raise SynthgateError(f"refused member: too large ({info.size} bytes; the "
                                     f"limit is {cap})", where=place)
            data = fileobj.read()
            contents.blobs[rel] = data
            digest = hashlib.sha256(data).hexdigest()
        else:
            hasher = _HashingReader(fileobj)
            while hasher.read(_CHUNK):
                pass
            digest = hasher.digest.hexdigest()
        contents.entries[rel] = FileEntry(rel, info.size, digest)

    scan(path, limits, visit)
    return contents


def _check_files(contents: _Contents, manifest: Mapping[str, Any]) -> None:
    """Every member is in the manifest with the same size and hash, and nothing is missing."""
    listed = {f["path"]: FileEntry(f["path"], f["size"], f["sha256"]) for f in manifest["files"]}
    where = str(contents.path)
    for rel, actual in contents.entries.items():
        place = f"{where}: {TOP_FOLDER}/{rel}"
        if rel in (MANIFEST, SIGNATURE) or _APPROVAL_RE.fullmatch(rel):
            continue
        expected = listed.get(rel)
        if expected is None:
            raise SynthgateError("refused member: file not listed in the manifest", where=place,
                                 fix="the bundle was altered after signing")
        if actual != expected:
            raise SynthgateError(
                f"refused member: content does not match the manifest (sha256 "
                f"{actual.sha256[:16]}..., {actual.size} bytes; the manifest says "
                f"{expected.sha256[:16]}..., {expected.size} bytes)", where=place,
                fix="the bundle was altered after signing",
            )
    for rel in listed:
        if rel not in contents.entries:
            raise SynthgateError("file listed in the manifest is missing",
                                 where=f"{where}: {TOP_FOLDER}/{rel}",
                                 fix="the bundle was altered after signing")


def _read_checked(path: Path, limits: Limits) -> tuple[_Contents, dict[str, Any]]:
    """Read the bundle and check its structure and manifest, not yet its signatures."""
    contents = _read_contents(path, limits)
    if MANIFEST not in contents.blobs:
        raise SynthgateError("the bundle has no manifest.json", where=str(path),
                             fix="give a bundle written by `synthgate-agent bundle`")
    manifest = parse_manifest(contents.blobs[MANIFEST], f"{path}: {TOP_FOLDER}/{MANIFEST}")
    if SIGNATURE not in contents.blobs:
        raise SynthgateError("the bundle has no manifest.sig (it is not signed)",
                             where=str(path), fix="sign it with `synthgate-agent bundle`")
    return contents, manifest


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose signature, hashes and structure have all been checked.

    ``documents`` holds the bytes of ``config.yaml``, ``orm.yaml`` and ``src-stats.yaml``;
    vocabulary files (possibly large) are written out by ``extract``.
    """

    path: Path
    manifest: dict[str, Any]
    manifest_bytes: bytes
    signer_key_id: str
    approvals: tuple[Approval, ...]
    documents: dict[str, bytes]
    limits: Limits = DEFAULT_LIMITS

    @property
    def files(self) -> list[FileEntry]:
        """The manifest's files, sorted by path."""
        return [FileEntry(f["path"], f["size"], f["sha256"]) for f in self.manifest["files"]]

    @property
    def uncompressed_sizes(self) -> dict[str, int]:
        """Bundle path -> decompressed size, for the files whose manifest entry records one."""
        return {f["path"]: f[UNCOMPRESSED] for f in self.manifest["files"]
                if UNCOMPRESSED in f}

    @property
    def vocab_files(self) -> dict[str, str]:
        """Vocabulary table name -> its path inside the bundle."""
        out: dict[str, str] = {}
        for entry in self.files:
            match = _VOCAB_RE.fullmatch(entry.path)
            if match:
                out[match.group(1)] = entry.path
        return out

    def text(self, name: str) -> str:
        """One of ``DOCUMENTS`` as text."""
        try:
            return self.documents[name].decode("utf-8")
        except UnicodeDecodeError:
            raise SynthgateError("not UTF-8 text", where=f"{self.path}: {name}") from None

    def extract(self, dest: Path, names: Sequence[str] | None = None) -> dict[str, Path]:
        """Write the bundle's files (all, or those named) under the existing folder ``dest``.

        The archive is read again and every file is hashed while it is written; a file that
        no longer matches the verified manifest is an error. Returns bundle path -> file.
        """
        wanted = {e.path: e for e in self.files if names is None or e.path in names}
        unknown = sorted(set(names or ()) - set(wanted))
        if unknown:
            raise SynthgateError(f"the bundle has no file {unknown[0]!r}", where=str(self.path))
        out: dict[str, Path] = {}

        def visit(rel: str, info: tarfile.TarInfo, fileobj: IO[bytes]) -> None:
            if rel not in wanted:
                return
            target = Path(dest) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            hasher = _HashingReader(fileobj)
            with target.open("xb") as handle:
                while chunk := hasher.read(_CHUNK):
                    handle.write(chunk)
            if hasher.digest.hexdigest() != wanted[rel].sha256:
                target.unlink()
                raise _changed(f"{self.path}: {info.name}")
            out[rel] = target

        scan(self.path, self.limits, visit)
        missing = sorted(set(wanted) - set(out))
        if missing:
            raise _changed(f"{self.path}: {missing[0]}")
        return out


def verify_bundle(
    path: Path, trusted_keys: Sequence[Ed25519PublicKey],
    required_approvals: Sequence[Ed25519PublicKey] = (), limits: Limits = DEFAULT_LIMITS,
) -> VerifiedBundle:
    """Check a bundle completely and return its verified contents.

    Refuses: a structure problem (links, absolute or ``..`` paths, duplicates, non-regular
    or oversized members, a damaged archive), an invalid or unknown manifest, a signature
    that is bad or made by a key not in ``trusted_keys``, files changed, added or missing.
    With ``required_approvals``, the bundle also needs a valid approval by at least one of
    those reviewer keys.
    """
    where = str(path)
    if not trusted_keys:
        raise SynthgateError("no trusted agent key given", where=where,
                             fix="pass the agent's public key with --trust agent.pub")
    contents, manifest = _read_checked(Path(path), limits)
    trusted = {key_id(k): k for k in trusted_keys}
    signer = manifest["signer"]["key_id"]
    sig_place = f"{where}: {TOP_FOLDER}/{SIGNATURE}"
    if signer not in trusted:
        raise SynthgateError(
            f"signed by an unknown key {signer} (trusted: {', '.join(sorted(trusted))})",
            where=sig_place, fix="pass that agent's public key with --trust if you trust it",
        )
    if not verify_signature(trusted[signer], contents.blobs[MANIFEST],
                            contents.blobs[SIGNATURE]):
        raise SynthgateError(
            f"bad signature: manifest.json was not signed by key {signer}", where=sig_place,
            fix="the bundle was altered after signing",
        )
    _check_files(contents, manifest)
    approvals = _check_approvals(contents, trusted, required_approvals)
    return VerifiedBundle(
        path=Path(path), manifest=manifest, manifest_bytes=contents.blobs[MANIFEST],
        signer_key_id=signer, approvals=approvals,
        documents={d: contents.blobs[d] for d in DOCUMENTS}, limits=limits,
    )


def _check_approvals(
    contents: _Contents, trusted: Mapping[str, Ed25519PublicKey],
    required: Sequence[Ed25519PublicKey],
) -> tuple[Approval, ...]:
    known = {**trusted, **{key_id(k): k for k in required}}
    approvals = []
    for rel, blob in sorted(contents.blobs.items()):
        match = _APPROVAL_RE.fullmatch(rel)
        if not match:
            continue
        kid = match.group(1)
        key = known.get(kid)
        if key is None:
            status = "unchecked"
        elif verify_signature(key, contents.blobs[MANIFEST], blob):
            status = "valid"
        else:
            status = "invalid"
        approvals.append(Approval(kid, status))
    if required:
        required_ids = [key_id(k) for k in required]
        found = {a.key_id: a.status for a in approvals}
        if not any(found.get(kid) == "valid" for kid in required_ids):
            where = f"{contents.path}: {TOP_FOLDER}/approvals"
            if any(found.get(kid) == "invalid" for kid in required_ids):
                raise SynthgateError(
                    "the reviewer's approval does not match this manifest: the bundle changed "
                    "after approval", where=where, fix="have the new bundle reviewed and approved",
                )
            raise SynthgateError(
                f"no approval by a required reviewer key ({', '.join(required_ids)})",
                where=where,
                fix="have it reviewed, then `synthgate-agent approve --key reviewer.pem BUNDLE`",
            )
    return tuple(approvals)


def add_approval(bundle_path: Path, reviewer_key: Ed25519PrivateKey,
                 limits: Limits = DEFAULT_LIMITS) -> Path:
    """Add ``approvals/<key id>.sig``, the reviewer's signature of the exact manifest bytes.

    Every other member is copied unchanged (header and content; an earlier approval by the
    same key is replaced). The bundle's structure and hashes are checked first; the file is
    replaced atomically. Returns the path of the approval inside the bundle.
    """
    bundle_path = Path(bundle_path)
    contents, manifest = _read_checked(bundle_path, limits)
    _check_files(contents, manifest)
    rel_new = f"approvals/{key_id(reviewer_key.public_key())}.sig"
    signature = sign(reviewer_key, contents.blobs[MANIFEST])
    with _deterministic_tar(bundle_path) as tar:
        pending = [rel_new]

        def add_new() -> None:
            tar.addfile(_tar_info(f"{TOP_FOLDER}/{rel_new}", len(signature), contents.mtime),
                        io.BytesIO(signature))
            pending.clear()

        def visit(rel: str, info: tarfile.TarInfo, fileobj: IO[bytes]) -> None:
            if rel == rel_new:
                return
            if pending and rel > rel_new:
                add_new()
            reader = _HashingReader(fileobj)
            tar.addfile(info, reader)
            expected = contents.entries.get(rel)
            if expected is None or reader.digest.hexdigest() != expected.sha256:
                raise _changed(f"{bundle_path}: {info.name}")

        scan(bundle_path, limits, visit)
        if pending:
            add_new()
    return Path(rel_new)
