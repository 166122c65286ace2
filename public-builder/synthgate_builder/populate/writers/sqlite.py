"""SQLite (and the generic fallback): multi-row INSERT, foreign keys checked at commit
(``PRAGMA defer_foreign_keys``); ``VALUES (NULL)`` makes SQLite fill its rowid key."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synthgate_builder.populate.plan import RunPlan
from synthgate_builder.populate.writers.base import Writer


class SqliteWriter(Writer):
    """The SQLite writer."""

    def begin_pass(self, conn: Connection, plan: RunPlan) -> None:
        """Check foreign keys at commit."""
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")

    def default_value(self) -> Any:
        """NULL: SQLite fills its rowid key so."""
        return sa.null()
