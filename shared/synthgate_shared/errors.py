"""User-facing errors: one readable line saying what went wrong, where, and how to fix it."""

from __future__ import annotations


class SynthgateError(Exception):
    """An error caused by input the user can fix; the CLI prints it as one line.

    ``where`` names the place (a file, a table, a query name), ``fix`` says what to do.
    """

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what.rstrip(".")
        self.where = where
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Render the error as a single line: ``where: what. fix``."""
        text = f"{self.where}: {self.what}" if self.where else self.what
        if self.fix:
            fix = self.fix.rstrip(".")
            text += f". {fix}" + ("" if fix.endswith(("?", "!")) else ".")
        return " ".join(text.split())
