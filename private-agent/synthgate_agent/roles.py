"""What the role the agent connects as may do, beyond reading, and which tables it may not read.

The agent's own sessions are read only, but a role that may write, run programs or read
server files turns any mistake in that defence into damage. ``inspect_role`` lists those
powers from the server's catalogs (PostgreSQL) or ``SHOW GRANTS`` (MariaDB/MySQL);
``enforce_role`` refuses a privileged role unless the operator allows it. SQLite has no
roles: its file is opened ``mode=ro``.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from synthgate_shared.errors import SynthgateError

ALLOW_ENV = "SYNTHGATE_ALLOW_PRIVILEGED_ROLE"
OPERATORS_DOC = "docs/OPERATORS.md"
# How many tables or schemas a message names before it says "and N more".
_NAMED = 3

# PostgreSQL predefined roles that reach outside the database or write everything.
_PG_POWER_ROLES = {
    "pg_execute_server_program": "runs programs on the server (member of "
                                 "pg_execute_server_program)",
    "pg_read_server_files": "reads server files (member of pg_read_server_files)",
    "pg_write_server_files": "writes server files (member of pg_write_server_files)",
    "pg_write_all_data": "writes every table (member of pg_write_all_data)",
}
_PG_WARN_ROLES = {
    "pg_signal_backend": "may cancel or end other sessions (member of pg_signal_backend)",
}
_PG_ATTRIBUTES = {
    "rolcreaterole": "creates roles and grants their membership (CREATEROLE)",
    "rolcreatedb": "creates databases (CREATEDB)",
    "rolreplication": "streams replication (REPLICATION)",
}
_PG_USER_SCHEMAS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'")
_PG_ROLE = "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolreplication " \
           "FROM pg_roles WHERE rolname = current_user"
_PG_MEMBER_OF = ("SELECT rolname FROM pg_roles WHERE rolname = ANY(:roles) "
                 "AND pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname")
_PG_WRITE_GRANTS = f"""
SELECT p.priv, n.nspname, c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN (VALUES ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(priv)
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_PG_USER_SCHEMAS}
  AND CASE WHEN p.priv IN ('INSERT', 'UPDATE') THEN has_any_column_privilege(c.oid, p.priv)
           ELSE has_table_privilege(c.oid, p.priv) END
ORDER BY n.nspname, c.relname
"""
_PG_OWNED = f"""
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {_PG_USER_SCHEMAS}
  AND pg_has_role(c.relowner, 'MEMBER')
ORDER BY n.nspname, c.relname
"""
_PG_CREATE_SCHEMAS = f"""
SELECT n.nspname, has_schema_privilege('public', n.oid, 'CREATE') FROM pg_namespace n
WHERE {_PG_USER_SCHEMAS} AND has_schema_privilege(n.oid, 'CREATE') ORDER BY n.nspname
"""
_PG_CREATE_DATABASE = "SELECT current_database(), has_database_privilege(current_database(), " \
                      "'CREATE')"
_PG_UNREADABLE = f"""
SELECT n.nspname, c.relname, has_schema_privilege(n.oid, 'USAGE')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_PG_USER_SCHEMAS}
  AND n.nspname = :schema AND c.relname = ANY(:tables)
  AND NOT (has_schema_privilege(n.oid, 'USAGE') AND NOT EXISTS (
      SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
        AND NOT a.attisdropped AND NOT has_column_privilege(c.oid, a.attnum, 'SELECT')))
ORDER BY c.relname
"""

# MariaDB/MySQL privileges that only read; anything else a grant holds is a power.
_MYSQL_READ_ONLY = {"SELECT", "SHOW VIEW", "USAGE", "SHOW DATABASES"}
_MYSQL_NAMED_POWERS = {
    "SUPER": "SUPER (administers the server)",
    "FILE": "FILE (reads and writes server files)",
    "PROCESS": "PROCESS (sees every session's statements)",
    "SHUTDOWN": "SHUTDOWN (stops the server)",
    "ALL PRIVILEGES": "ALL PRIVILEGES",
}
_ROLE_GRANT = re.compile(r"GRANT\s+((?:`(?:[^`]|``)+`\s*,?\s*)+)\s+TO\s", re.IGNORECASE)
_PRIV_GRANT = re.compile(r"GRANT\s+(.+?)\s+ON\s+(.+?)\s+TO\s+(.+)", re.IGNORECASE | re.DOTALL)
_BACKQUOTED = re.compile(r"`((?:[^`]|``)+)`")
_PG_DENIED = re.compile(r"permission denied for (table|view|relation|materialized view|"
                        r"foreign table|sequence|schema) \"?([^\s\"]+)\"?")
_MYSQL_DENIED = re.compile(r"command denied to user .+ for (?:column [`'][^`']+[`'] in )?"
                           r"table [`']?([^`'.]+)[`']?"
                           r"(?:\.[`']?([^`'\s]+)[`']?)?")


@dataclass(frozen=True)
class RoleCheck:
    """The role the agent connected as: its name, what it may do beyond reading (empty: a
    least-privilege reader) and powers worth a warning only."""

    name: str
    powers: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def privileged(self) -> bool:
        """True when the role may do more than read."""
        return bool(self.powers)

    def describe(self) -> str:
        """What the role may do, as one clause."""
        return "; ".join(self.powers)


def allowed_by_env() -> bool:
    """Whether ``SYNTHGATE_ALLOW_PRIVILEGED_ROLE`` is set to a true value."""
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _named(items: list[str]) -> str:
    shown = ", ".join(items[:_NAMED])
    return shown + (f" and {len(items) - _NAMED} more" if len(items) > _NAMED else "")


def _pg_role(conn: Connection) -> RoleCheck:
    name, superuser, *attributes = conn.execute(sa.text(_PG_ROLE)).one()
    if superuser:
        return RoleCheck(name, ("is a superuser (runs programs, reads and writes server files "
                                "and every table)",))
    powers = [_PG_ATTRIBUTES[key] for key, value in
              zip(("rolcreaterole", "rolcreatedb", "rolreplication"), attributes, strict=True)
              if value]
    roles = [*_PG_POWER_ROLES, *_PG_WARN_ROLES]
    member_of = {r for (r,) in conn.execute(sa.text(_PG_MEMBER_OF), {"roles": roles})}
    powers += [text for role, text in _PG_POWER_ROLES.items() if role in member_of]
    grants: dict[str, list[str]] = {}
    for priv, schema, table in conn.execute(sa.text(_PG_WRITE_GRANTS)):
        grants.setdefault(f"{schema}.{table}", []).append(priv)
    by_privs: dict[str, list[str]] = {}
    for table, privs in grants.items():
        by_privs.setdefault(", ".join(privs), []).append(table)
    powers += [f"has {privs} on {_named(tables)}" for privs, tables in by_privs.items()]
    owned = [f"{s}.{t}" for s, t in conn.execute(sa.text(_PG_OWNED))]
    if owned:
        powers.append(f"owns {_named(owned)}")
    schemas = list(conn.execute(sa.text(_PG_CREATE_SCHEMAS)))
    if schemas:
        powers.append(f"has CREATE on schema {_named([s for s, _ in schemas])}")
    powers += [f"(every role has CREATE on schema {s}: REVOKE CREATE ON SCHEMA {s} FROM PUBLIC)"
               for s, public in schemas if public]
    database, create_db = conn.execute(sa.text(_PG_CREATE_DATABASE)).one()
    if create_db:
        powers.append(f"has CREATE on database {database}")
    warnings = [text for role, text in _PG_WARN_ROLES.items() if role in member_of]
    return RoleCheck(name, tuple(powers), tuple(warnings))


def _split_privileges(text: str) -> list[str]:
    """``SELECT (a, b), INSERT, SHOW VIEW`` -> ``['SELECT', 'INSERT', 'SHOW VIEW']``."""
    out: list[str] = []
    depth, current = 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += char
    out.append(current)
    return [" ".join(re.sub(r"\(.*?\)", "", p).split()).upper() for p in out if p.strip()]


def mysql_powers(grants: list[str]) -> list[str]:
    """What ``SHOW GRANTS`` lines allow beyond reading, one clause per grant line."""
    powers: list[str] = []
    for line in grants:
        match = _PRIV_GRANT.fullmatch(line.strip())
        if _ROLE_GRANT.match(line) or not match:
            continue
        privileges, target, grantee = match.groups()
        extra = [_MYSQL_NAMED_POWERS.get(p, p) for p in _split_privileges(privileges)
                 if p not in _MYSQL_READ_ONLY]
        if re.search(r"WITH\s+.*GRANT\s+OPTION", grantee, re.IGNORECASE):
            extra.append("GRANT OPTION (grants its privileges to others)")
        if extra:
            powers.append(f"has {', '.join(extra)} on {target.replace('`', '')}")
    return powers


def mysql_granted_roles(grants: list[str]) -> list[str]:
    """The role names that ``SHOW GRANTS`` lines grant (``GRANT `r` TO ...``)."""
    names: list[str] = []
    for line in grants:
        match = _ROLE_GRANT.match(line.strip())
        if match:
            names += [n.replace("``", "`") for n in _BACKQUOTED.findall(match.group(1))]
    return names


def _mysql_role(conn: Connection) -> RoleCheck:
    name = str(conn.exec_driver_sql("SELECT CURRENT_USER()").scalar_one())
    lines = [str(r[0]) for r in conn.exec_driver_sql("SHOW GRANTS")]
    seen: set[str] = set()
    pending = mysql_granted_roles(lines)
    while pending:  # roles granted to roles, each once
        role = pending.pop()
        if role in seen:
            continue
        seen.add(role)
        quoted = "`" + role.replace("`", "``") + "`"
        try:
            more = [str(r[0]) for r in conn.exec_driver_sql(
                f"SHOW GRANTS FOR {quoted}".replace("%", "%%"))]
        except DBAPIError:  # a role it may not inspect: its active grants are listed above
            continue
        lines += more
        pending += mysql_granted_roles(more)
    powers = list(dict.fromkeys(mysql_powers(lines)))
    return RoleCheck(name, tuple(powers))


def inspect_role(conn: Connection) -> RoleCheck | None:
    """The role of ``conn`` and what it may do beyond reading (None on SQLite: no roles)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return _pg_role(conn)
    if dialect in ("mysql", "mariadb"):
        return _mysql_role(conn)
    return None


def enforce_role(role: RoleCheck | None, allow_privileged: bool, where: str) -> None:
    """Refuse a privileged role unless ``allow_privileged``; print a warning line otherwise."""
    if role is None:
        return
    for warning in role.warnings:
        print(f"warning: the source role {role.name!r} {warning}", file=sys.stderr)
    if not role.privileged:
        return
    if not allow_privileged:
        raise SynthgateError(
            f"the source role {role.name!r} may do more than read: it {role.describe()}",
            where=where,
            fix=f"connect as a read-only role ({OPERATORS_DOC} gives the GRANTs), or pass "
                f"--allow-privileged-role (or set {ALLOW_ENV}=1) to accept this role")
    print(f"warning: the source role {role.name!r} may do more than read (it "
          f"{role.describe()}); going on because privileged roles are allowed "
          f"(--allow-privileged-role)", file=sys.stderr)


def grant_needed(dialect: Any, role: str, schema: str | None, table: str | None) -> str:
    """The GRANT that lets ``role`` read ``schema.table`` (``table`` None: use ``schema``)."""
    prep = dialect.identifier_preparer
    if dialect.name == "postgresql":
        if table is None:
            return f"GRANT USAGE ON SCHEMA {prep.quote(schema or 'public')} TO {prep.quote(role)}"
        return f"GRANT SELECT ON {prep.quote(schema or 'public')}.{prep.quote(table)} " \
               f"TO {prep.quote(role)}"
    user, _, host = role.partition("@")
    target = f"{prep.quote(schema)}.{prep.quote(table or '')}" if schema else prep.quote(table)
    return f"GRANT SELECT ON {target} TO '{user}'@'{host or '%'}'"


def unreadable_error(dialect: Any, role: str | None, schema: str | None, tables: list[str],
                     where: str, schema_usage: bool = False) -> SynthgateError:
    """One line naming the first table the role may not read and the GRANT it needs."""
    name = role or "the agent's role"
    if dialect.name == "postgresql":
        schema = schema or "public"
    first = f"{schema}.{tables[0]}" if schema else tables[0]
    more = f" (and {len(tables) - 1} more: {_named(tables[1:])})" if len(tables) > 1 else ""
    what = f"schema {schema}" if schema_usage else f"table {first}{more}"
    grant = grant_needed(dialect, name, schema, None if schema_usage else tables[0])
    return SynthgateError(f"the source role {name!r} may not read {what}", where=where,
                          fix=f"`{grant}` ({OPERATORS_DOC} gives the GRANTs of a reader), "
                              "or leave the table out")


def unreadable_tables(conn: Connection, schema: str | None, tables: list[str]
                      ) -> tuple[str | None, list[str], bool]:
    """The tables of ``tables`` in ``schema`` that the role may not read (all columns), with
    the schema they were looked up in and whether USAGE on that schema is what is missing."""
    if not tables or conn.dialect.name == "sqlite":
        return schema, [], False
    if conn.dialect.name == "postgresql":
        schema = schema or str(conn.exec_driver_sql("SELECT current_schema()").scalar_one())
        rows = list(conn.execute(sa.text(_PG_UNREADABLE),
                                 {"schema": schema, "tables": list(tables)}))
        return schema, [r[1] for r in rows], bool(rows) and not rows[0][2]
    denied: list[str] = []
    for table in tables:
        probe: sa.Select[Any] = sa.select(sa.literal_column("1")).select_from(
            sa.table(table, schema=schema)).where(sa.false())
        try:
            conn.execute(probe).close()
        except DBAPIError as exc:
            if denied_table(exc) is None:
                raise
            denied.append(table)
    return schema, denied, False


def denied_table(exc: DBAPIError) -> tuple[str | None, str | None] | None:
    """(schema, table) a permission error names (table None: the schema is denied; schema
    None: not named); None for any other error."""
    orig: Any = exc.orig
    detail = str(orig or exc)
    if getattr(orig, "pgcode", None) == "42501":
        match = _PG_DENIED.search(detail)
        if match is None:
            return None
        return (match.group(2), None) if match.group(1) == "schema" else (None, match.group(2))
    args = getattr(orig, "args", ())
    if args and args[0] in (1142, 1143):
        match = _MYSQL_DENIED.search(detail)
        if match:
            return (match.group(1), match.group(2)) if match.group(2) else (None,
                                                                            match.group(1))
    return None


def permission_error(exc: DBAPIError, dialect: Any, role: str | None, schema: str | None,
                     where: str) -> SynthgateError | None:
    """The ``unreadable_error`` for a query that failed on a permission; None when ``exc``
    is another error."""
    found = denied_table(exc)
    if found is None:
        return None
    table_schema, table = found
    if table is None:
        return unreadable_error(dialect, role, table_schema, [""], where, schema_usage=True)
    return unreadable_error(dialect, role, table_schema or schema, [table], where)
