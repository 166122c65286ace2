"""File output that never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from synthgate_shared.errors import SynthgateError


def refuse_overwrite(path: Path, force: bool) -> None:
    """Raise a clear error when ``path`` exists and ``force`` was not given."""
    if path.exists() and not force:
        raise SynthgateError(
            "output file already exists", where=str(path), fix="use --force to overwrite it"
        )


def temp_file_beside(path: Path) -> tuple[int, Path]:
    """Create an empty temporary file (mode 0600) in ``path``'s folder, making the folder.

    A folder that cannot be written (read-only, not mounted in a container, no permission) is
    one clear error instead of an OSError about a temporary name.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SynthgateError(
            f"cannot write to the output folder ({exc.strerror})",
            where=str(path.parent.absolute()),
            fix="give a writable folder (in a container: mount one, e.g. -v ./out:/data)",
        ) from None
    return fd, Path(tmp_name)


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it to ``path`` only when the block succeeds.

    On any exception (including KeyboardInterrupt) the temporary file is removed, so
    ``path`` either keeps its old content or gets the complete new content.
    """
    path = Path(path)
    fd, tmp = temp_file_beside(path)
    try:
        if "b" in mode:
            handle: IO[Any] = os.fdopen(fd, mode)
        else:
            handle = os.fdopen(fd, mode, encoding=encoding, newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_output(path) as handle:
        handle.write(text)
