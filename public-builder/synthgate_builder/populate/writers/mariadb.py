"""MariaDB (and MySQL): multi-row INSERT; foreign keys are checked at each row (no deferred
constraints), and a temporary table is kept on rollback and needs ``DROP TEMPORARY`` (a
plain DROP would commit)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from synthgate_builder.populate.writers.base import PAIRS_TABLE, Writer


class MariaDbWriter(Writer):
    """The MariaDB writer."""

    can_defer = False

    def create_pairs(self, conn: Connection, select_sql: str) -> None:
        """Create the pairs table, dropping one a failed pass left (kept on rollback)."""
        conn.exec_driver_sql(f"DROP TEMPORARY TABLE IF EXISTS {PAIRS_TABLE}")
        super().create_pairs(conn, select_sql)

    def drop_pairs(self, conn: Connection) -> None:
        """Drop the pairs table without an implicit commit."""
        conn.exec_driver_sql(f"DROP TEMPORARY TABLE {PAIRS_TABLE}")
