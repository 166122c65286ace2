"""The bounded, streaming reader of a bundle's ``.tar.gz``: gzip decompression that checks
the CRC, refuses trailing data and stops at a size cap; every tar member's path and kind
checked before its content is read; nothing is ever extracted to disk.

``scan(path, limits, visit)`` calls ``visit(rel, info, fileobj)`` for each member, ``rel``
being its path inside the bundle folder; ``bundle.verify_bundle`` builds on it.
"""

from __future__ import annotations

import io
import re
import stat
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from synthgate_shared.errors import SynthgateError

TOP_FOLDER = "synthgate-bundle"
# What Python's gzip writes with mtime=0, no file name and level 6 (extra flags 0).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    """Upper bounds that protect the reader from huge or bomb-like archives."""

    bundle_bytes: int = 4 << 30  # the .tar.gz file itself
    member_bytes: int = 2 << 30  # any one member
    unpacked_bytes: int = 8 << 30  # everything after decompression
    members: int = 10_000
    document_bytes: int = 256 << 20  # manifest, config, orm, stats: held in memory
    # the tar stream may unpack to at most this many times the bundle's size (at least
    # unpacked_floor): its members are YAML (~10x) and vocabulary files already gzipped
    unpacked_ratio: int = 200
    unpacked_floor: int = 256 << 20

    def unpacked_cap(self, bundle_size: int) -> int:
        """The decompressed size allowed for a bundle of ``bundle_size`` bytes."""
        return min(self.unpacked_bytes, max(self.unpacked_floor,
                                            self.unpacked_ratio * bundle_size))


DEFAULT_LIMITS = Limits()


class _Gunzip(io.RawIOBase):
    """Streaming gzip decompression that checks the CRC, refuses trailing data and
    stops at ``limit`` decompressed bytes (a bomb guard)."""

    def __init__(self, raw: IO[bytes], limit: int, where: str) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit
        self._where = where
        self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self._pending = b""
        self._offset = 0
        self._total = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._offset >= len(self._pending):
            if self._done:
                return 0
            self._fill()
        count = min(len(buffer), len(self._pending) - self._offset)
        buffer[:count] = self._pending[self._offset:self._offset + count]
        self._offset += count
        return count

    def _fill(self) -> None:
        if self._inflater.eof:
            if self._inflater.unused_data or self._raw.read(1):
                raise SynthgateError("data after the end of the compressed archive",
                                     where=self._where, fix="the bundle was altered")
            self._done = True
            return
        data = self._inflater.unconsumed_tail or self._raw.read(CHUNK)
        if not data:
            raise SynthgateError("the archive is truncated", where=self._where,
                                 fix="copy the complete bundle again")
        try:
            out = self._inflater.decompress(data, CHUNK)
        except zlib.error as exc:
            raise SynthgateError(f"corrupt compressed data ({exc})", where=self._where,
                                 fix="the bundle was damaged or altered") from None
        self._total += len(out)
        if self._total > self._limit:
            raise SynthgateError(f"the archive unpacks to more than {self._limit} bytes",
                                 where=self._where, fix="refusing a possible archive bomb")
        self._pending, self._offset = out, 0


def member_path(info: tarfile.TarInfo, seen: set[str], limits: Limits, where: str) -> str:
    """Check one tar member and return its path inside the bundle folder."""
    name = info.name
    place = f"{where}: {name}"

    def refuse(reason: str) -> SynthgateError:
        return SynthgateError(f"refused member: {reason}", where=place,
                              fix="the bundle is damaged or was altered")

    if len(seen) >= limits.members:
        raise refuse(f"more than {limits.members} members")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise refuse("absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise refuse("path contains '..'")
    if "\\" in name or any(p in ("", ".") for p in parts):
        raise refuse("path is not in normal form")
    if info.issym():
        raise refuse(f"symbolic link (to {info.linkname!r})")
    if info.islnk():
        raise refuse(f"hard link (to {info.linkname!r})")
    if not info.isreg():
        raise refuse("not a regular file")
    if name in seen:
        raise refuse("duplicate name")
    seen.add(name)
    if len(parts) < 2 or parts[0] != TOP_FOLDER:
        raise refuse(f"outside the bundle folder {TOP_FOLDER}/")
    if info.size > limits.member_bytes:
        raise refuse(f"too large ({info.size} bytes; the limit is {limits.member_bytes})")
    return "/".join(parts[1:])


Visitor = Callable[[str, tarfile.TarInfo, IO[bytes]], None]


def scan(path: Path, limits: Limits, visit: Visitor) -> None:
    """Stream through the bundle, checking every member, and call ``visit`` on each."""
    path = Path(path)
    where = str(path)
    try:
        status = path.stat()
    except FileNotFoundError:
        raise SynthgateError("bundle file not found", where=where) from None
    if not stat.S_ISREG(status.st_mode):
        raise SynthgateError("a folder or other non-file, not a bundle file", where=where,
                             fix="give the path of the bundle.tar.gz itself")
    size = status.st_size
    if size > limits.bundle_bytes:
        raise SynthgateError(f"bundle too large ({size} bytes; the limit is "
                             f"{limits.bundle_bytes})", where=where)
    with path.open("rb") as raw:
        if raw.read(len(GZIP_HEADER)) != GZIP_HEADER:
            raise SynthgateError(
                "not a synthgate bundle (no canonical gzip header)", where=where,
                fix="give the bundle.tar.gz written by `synthgate-agent bundle`, unmodified",
            )
        raw.seek(0)
        stream = io.BufferedReader(_Gunzip(raw, limits.unpacked_cap(size), where), CHUNK)
        seen: set[str] = set()
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    rel = member_path(info, seen, limits, where)
                    fileobj = tar.extractfile(info)
                    assert fileobj is not None  # regular files always have content
                    visit(rel, info, fileobj)
            while stream.read(CHUNK):  # the rest must decompress too: checks CRC and tail
                pass
        except tarfile.TarError as exc:
            raise SynthgateError(f"not a readable tar archive ({exc})", where=where,
                                 fix="the bundle is damaged or was altered") from None
    if not seen:
        raise SynthgateError("the bundle is empty", where=where)
