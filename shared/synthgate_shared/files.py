"""File output that never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from synthgate_shared.errors import SynthgateError


def refuse_overwrite(path: Path, force: bool) -> None:
    """Raise a clear error when ``path`` exists and ``force`` was not given."""
    if path.exists() and not force:
        raise SynthgateError(
            "output file already exists", where=str(path), fix="use --force to overwrite it"
        )


def _lock(fd: int) -> bool | None:
    """Take an exclusive lock on ``fd`` without waiting: True when taken, False when another
    open file holds it, None when the file system has no locks."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def remove_stale(folder: Path, prefix: str, suffix: str = "") -> list[Path]:
    """Remove what an earlier run killed with SIGKILL left in ``folder``: entries named
    ``<prefix>...<suffix>``, owned by this user, that no process holds locked (a running
    synthgate holds its temporary files and folders locked until it is done, and the kernel
    lets go of the locks of a dead process, whatever its PID namespace). Returns what was
    removed; entries it cannot lock or remove are left."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(suffix)):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.getuid() or entry.is_symlink():
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if not _lock(fd):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _locked(make: Callable[[], tuple[int, str]]) -> tuple[int, str]:
    """``make()`` a new temporary entry (fd, name) and lock it; should another run's
    ``remove_stale`` lock it first (and so remove it), make another."""
    name = ""
    for _ in range(_ATTEMPTS):
        try:
            fd, name = make()
        except FileNotFoundError:  # removed between its creation and its opening
            continue
        if _lock(fd) is not False and _still_there(fd, name):
            return fd, name
        os.close(fd)
    raise SynthgateError("cannot create a temporary file: another run removes them",
                         where=name, fix="run one synthgate command at a time there")


_ATTEMPTS = 5


def _still_there(fd: int, name: str) -> bool:
    """Whether ``name`` is still the entry ``fd`` opened: another run's ``remove_stale`` may
    have locked and removed it in the moment between its creation and our lock."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(name, follow_symlinks=False))
    except OSError:
        return False


def temp_file_beside(path: Path) -> tuple[int, Path]:
    """Create an empty temporary file (mode 0600) in ``path``'s folder, making the folder.

    The file is locked (``flock``) as long as the returned descriptor stays open, and its
    name carries this process's id: the next run removes what a killed run left
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
        fd, tmp_name = _locked(lambda: tempfile.mkstemp(
            prefix=f"{_temp_prefix(path)}{os.getpid()}-", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise SynthgateError(
            f"cannot write to the output folder ({exc.strerror})",
            where=str(path.parent.absolute()),
            fix="give a writable folder (in a container: mount one, e.g. -v ./out:/data)",
        ) from None
    return fd, Path(tmp_name)


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "w", encoding: str | None = "utf-8",
                  permissions: int = 0o644) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it to ``path`` only when the block succeeds.

    The file gets ``permissions`` just before the rename (until then it is mode 0600, as
    ``mkstemp`` makes it whatever the umask).

    On any exception (including KeyboardInterrupt) the temporary file is removed, so
    ``path`` either keeps its old content or gets the complete new content; after SIGKILL
    the next run removes it.
    """
    path = Path(path)
    fd, tmp = temp_file_beside(path)
    try:
        if "b" in mode:
            handle: IO[Any] = os.fdopen(fd, mode)
        else:
            handle = os.fdopen(fd, mode, encoding=encoding, newline="")
        with handle:  # renamed while still open, so its lock holds until then
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
            os.chmod(tmp, permissions)
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def temp_folder(prefix: str) -> Iterator[Path]:
    """A new private folder in the system's temporary folder, removed when the block ends.

    It is locked while in use and its name carries this process's id, so a folder left by a
    run killed with SIGKILL is removed by the next one (``remove_stale``).
    """
    base = Path(tempfile.gettempdir())
    remove_stale(base, prefix)

    def make() -> tuple[int, str]:
        name = tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base)
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY), name

    fd, name = _locked(make)
    try:
        yield Path(name)
    finally:
        try:
            shutil.rmtree(name, ignore_errors=True)
        finally:
            os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_output(path) as handle:
        handle.write(text)
