"""Running a Typer app so that every failure is one readable line and a non-zero exit."""

from __future__ import annotations

import math
import re
import signal
import sys
import traceback
from collections.abc import Callable, Sequence

import typer

try:  # typer >= 0.29 carries its own copy of click
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click import ClickException, UsageError  # type: ignore[no-redef]
from dotenv import load_dotenv

from synthgate_shared.errors import SynthgateError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


class Interrupted(BaseException):
    """Raised by SIGINT/SIGTERM; not a KeyboardInterrupt, which click would swallow."""


_signals_received: list[str] = []


def _interrupt(signum: int, _frame: object) -> None:
    _signals_received.append(signal.Signals(signum).name)
    raise Interrupted(_signals_received[-1])


_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """A byte size option (``20G``, ``512M``, ``4096``; K/M/G/T are powers of 1024), at
    least one byte; anything else is an option error naming the value."""
    match = re.fullmatch(r"\s*([0-9]+)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not match or int(match.group(1)) < 1:
        raise typer.BadParameter(f"{text!r} is not a size such as 4096, 512M or 20G")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]


def finite_number(*, minimum: float, inclusive: bool) -> Callable[[float | None], float | None]:
    """An option callback refusing inf, nan and numbers below ``minimum`` (or equal to it
    unless ``inclusive``), as one option error; None (not given) passes."""
    bound = f"at least {minimum:g}" if inclusive else f"greater than {minimum:g}"

    def check(value: float | None) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            raise typer.BadParameter(f"{value!r} is not a finite number {bound}")
        return value

    return check


def _quiet_excepthook(*_args: object) -> None:
    """Print nothing: every exception that ends a command is reported by ``_report``."""


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def run_app(app: typer.Typer, prog_name: str, argv: Sequence[str] | None = None) -> int:
    """Run ``app``; print errors as one line (a traceback only with ``--verbose``).

    Loads ``.env`` from the working directory first; variables already set win.
    Returns the process exit code.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    load_dotenv(dotenv_path=".env", override=False)
    if not verbose:
        # drivers report some errors with PyErr_Print (psycopg2 when the server ends a COPY),
        # which writes a bare exception chain; the error itself reaches _report. Typer puts
        # its own hook in place when the app runs, which calls the one it saw at import.
        sys.excepthook = _quiet_excepthook
        typer_main = sys.modules.get("typer.main")
        if typer_main is not None and hasattr(typer_main, "_original_except_hook"):
            typer_main._original_except_hook = _quiet_excepthook  # type: ignore[attr-defined]
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)  # docker stop
    try:
        app(args=args, prog_name=prog_name, standalone_mode=False)
        return 0
    except BaseException:
        # A signal raised inside a driver callback (COPY) comes back as a database error.
        if _signals_received:
            print(f"{prog_name}: interrupted; no partial output was kept", file=sys.stderr)
            return EXIT_INTERRUPTED
        return _report(sys.exc_info()[1], prog_name, verbose)


def _database_errors() -> tuple[type[BaseException], ...]:
    """SQLAlchemy's error classes, if a command imported SQLAlchemy: commands import their
    dependencies when they run, and an error from SQLAlchemy means it was imported."""
    exc = sys.modules.get("sqlalchemy.exc")
    return (exc.DBAPIError, exc.SQLAlchemyError) if exc else ()


def _database_message(exc: BaseException, prog_name: str) -> str:
    """The one line of a database error: a lost connection, or the server's first line."""
    detail = _first_line(str(getattr(exc, "orig", None) or exc))
    if getattr(exc, "connection_invalidated", False):
        return (f"{prog_name}: error: the connection to the database was lost ({detail}); "
                "the server rolled back the open transaction. Check the server, then run "
                "the command again.")
    return f"{prog_name}: database error: {detail} (run with --verbose for details)"


def _report(error: BaseException | None, prog_name: str, verbose: bool) -> int:
    """Print ``error`` as one line (with the traceback when ``verbose``); its exit code."""
    try:
        raise error or RuntimeError("unknown error")
    except SystemExit as exc:  # typer.Exit inside commands
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print(f"{prog_name}: aborted", file=sys.stderr)
        return EXIT_ERROR
    except ClickException as exc:  # a bad option or argument: one line, with the way to help
        hint = " (see --help)" if isinstance(exc, UsageError) else ""
        print(f"{prog_name}: error: {_first_line(exc.format_message())}{hint}", file=sys.stderr)
        return exc.exit_code
    except (Interrupted, KeyboardInterrupt):
        print(f"{prog_name}: interrupted; no partial output was kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SynthgateError as exc:
        if verbose:
            traceback.print_exc()
        print(f"{prog_name}: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_ERROR
    except _database_errors() as exc:
        if verbose:
            traceback.print_exc()
        print(_database_message(exc, prog_name), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if verbose:
            traceback.print_exc()
        print(
            f"{prog_name}: unexpected error: {type(exc).__name__}: {_first_line(str(exc))} "
            "(run with --verbose for the traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR
