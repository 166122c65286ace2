"""Running a Typer app so that every failure is one readable line and a non-zero exit."""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Sequence

import typer

try:  # typer >= 0.29 carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click import ClickException  # type: ignore[no-redef]
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
    except ClickException as exc:
        exc.show()
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
        detail = _first_line(str(getattr(exc, "orig", None) or exc))
        print(f"{prog_name}: database error: {detail} (run with --verbose for details)",
              file=sys.stderr)
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
