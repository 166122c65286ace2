"""File output that never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import shutil
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(folder: Path, prefix: str, suffix: str = "") -> list[Path]:
    """Remove what an earlier run killed with SIGKILL left in ``folder``: entries named
    ``<prefix><pid>-...<suffix>`` owned by this user whose process no longer runs (a file
    or a whole folder). Returns what was removed; entries it cannot remove are left."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        try:
            if not pid.isdigit() or entry.stat(follow_symlinks=False).st_uid != os.getuid() \
                    or _pid_alive(int(pid)):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def temp_file_beside(path: Path) -> tuple[int, Path]:
    """Create an empty temporary file (mode 0600) in ``path``'s folder, making the folder.

    Its name carries this process's id, so the next run removes what a killed run left
    (``remove_stale``). A folder that cannot be written (read-only, not mounted in a
    container, no permission) is one clear error instead of an OSError about a temporary
    name; ``path`` being a folder is one too.
    """
    if path.is_dir():
        raise SynthgateError("a folder, not a file", where=str(path),
                             fix="give the path of a file (inside that folder, for example)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent, _temp_prefix(path), ".tmp")
        fd, tmp_name = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}-",
                                        suffix=".tmp", dir=path.parent)
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


@contextlib.contextmanager
def temp_folder(prefix: str) -> Iterator[Path]:
    """A new private folder in the system's temporary folder, removed when the block ends;
    its name carries this process's id, so a run killed with SIGKILL leaves a folder the
    next one removes."""
    base = Path(tempfile.gettempdir())
    remove_stale(base, prefix)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-", dir=base) as tmp:
        yield Path(tmp)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_output(path) as handle:
        handle.write(text)
