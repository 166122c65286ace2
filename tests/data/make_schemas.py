"""Write the small test schemas ``bank`` and ``shop`` as SQL files (fixed seed, so the files are
the same on every run).

    .venv/bin/python tests/data/make_schemas.py     # rewrites tests/data/{bank,shop}/*.sql

Each schema is written three times: ``<name>.sql`` (PostgreSQL), ``<name>-mariadb.sql`` and
``<name>-sqlite.sql``; only the column type names differ. The rows are invented, built to hold
what issue 11 asks to measure: text categories, numbers stored as text (with leading zeros),
tiny reference tables, ``varchar(15)`` cities, nullable provider-like columns, date pairs within
a table and across foreign keys, and a foreign key whose parents are only partly used.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261202
Value = int | str | Decimal | dt.date | dt.datetime | None

# Type names per dialect: PostgreSQL, MariaDB, SQLite.
TYPES: dict[str, tuple[str, str, str]] = {
    "int": ("integer", "int", "INTEGER"),
    "text": ("text", "text", "TEXT"),
    "date": ("date", "date", "DATE"),
    "timestamp": ("timestamp", "datetime", "TIMESTAMP"),
}
DIALECTS = ("postgresql", "mariadb", "sqlite")
SUFFIX = {"postgresql": "", "mariadb": "-mariadb", "sqlite": "-sqlite"}


@dataclass
class Table:
    """One table: its column definitions (name, type key or literal type, NOT NULL), the key,
    the foreign keys (column, parent table) and the rows."""

    name: str
    columns: list[tuple[str, str, bool]]
    key: str
    fks: list[tuple[str, str]]
    rows: list[tuple[Value, ...]]


def _type(spec: str, dialect: str) -> str:
    return TYPES[spec][DIALECTS.index(dialect)] if spec in TYPES else spec


def _literal(value: Value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return f"'{value:%Y-%m-%d %H:%M:%S}'"
    if isinstance(value, dt.date):
        return f"'{value:%Y-%m-%d}'"
    return "'" + value.replace("'", "''") + "'"


def render(tables: Sequence[Table], dialect: str, title: str) -> str:
    """The SQL that creates ``tables`` (parents first) and inserts their rows."""
    out = [f"-- {title}", "-- Written by tests/data/make_schemas.py (fixed seed); do not edit.", ""]
    for table in tables:
        cols = [f"    {name} {_type(spec, dialect)}{' NOT NULL' if notnull else ''}"
                for name, spec, notnull in table.columns]
        cols.append(f"    PRIMARY KEY ({table.key})")
        parents = {t.name: t.key for t in tables}
        cols += [f"    FOREIGN KEY ({col}) REFERENCES {parent} ({parents[parent]})"
                 for col, parent in table.fks]
        out += [f"CREATE TABLE {table.name} (", ",\n".join(cols), ");", ""]
    for table in tables:
        names = ", ".join(name for name, _, _ in table.columns)
        for start in range(0, len(table.rows), 500):
            chunk = table.rows[start:start + 500]
            values = ",\n".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in chunk)
            out += [f"INSERT INTO {table.name} ({names}) VALUES", values + ";", ""]
    return "\n".join(out)


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.2f}")


def _day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days))


REGIONS = ["Prague", "central Bohemia", "south Bohemia", "west Bohemia", "north Bohemia",
           "east Bohemia", "south Moravia", "north Moravia"]
DISTRICT_NAMES = [
    "Hl.m. Praha", "Benesov", "Beroun", "Kladno", "Kolin", "Kutna Hora", "Melnik", "Mlada Boleslav",
    "Nymburk", "Praha - vychod", "Praha - zapad", "Pribram", "Rakovnik", "Ceske Budejovice",
    "Cesky Krumlov", "Jindrichuv Hradec", "Pelhrimov", "Pisek", "Prachatice", "Strakonice", "Tabor",
    "Domazlice", "Cheb", "Karlovy Vary", "Klatovy", "Plzen - mesto", "Plzen - jih", "Plzen - sever",
    "Rokycany", "Sokolov", "Tachov", "Ceska Lipa", "Decin", "Chomutov", "Jablonec n. Nisou",
    "Liberec", "Litomerice", "Louny", "Most", "Teplice", "Usti nad Labem", "Havlickuv Brod",
    "Hradec Kralove", "Chrudim", "Jicin", "Nachod", "Pardubice", "Rychnov nad Kneznou", "Semily",
    "Svitavy", "Trutnov", "Usti nad Orlici", "Blansko", "Brno - mesto", "Brno - venkov", "Breclav",
    "Hodonin", "Jihlava", "Kromeriz", "Prostejov", "Trebic", "Uherske Hradiste", "Vyskov", "Zlin",
    "Znojmo", "Zdar nad Sazavou", "Bruntal", "Frydek - Mistek", "Jesenik", "Karvina",
    "Novy Jicin", "Olomouc", "Opava", "Ostrava - mesto", "Prerov", "Sumperk", "Vsetin"]


def bank() -> list[Table]:
    """A Berka-like bank: districts, accounts, clients, dispositions and transactions."""
    rng = random.Random(SEED)
    district = Table("district", [("district_id", "int", True), ("name", "varchar(40)", True),
                                  ("region", "text", True), ("inhabitants", "int", True),
                                  ("unemployment", "numeric(4,2)", False)], "district_id", [], [])
    region_of = [0] + [1] * 12 + [2] * 8 + [3] * 10 + [4] * 10 + [5] * 11 + [6] * 14 + [7] * 11
    for i, name in enumerate(DISTRICT_NAMES, start=1):
        district.rows.append((i, name, REGIONS[region_of[i - 1]],
                              1_200_000 if i == 1 else rng.randrange(40_000, 400_000),
                              None if i % 25 == 7 else _money(rng, 0.3, 9.9)))
    # Prague holds many accounts, as in Berka: district weights are skewed.
    weights = [40.0] + [rng.uniform(1, 6) for _ in range(76)]
    account = Table("account", [("account_id", "int", True), ("district_id", "int", True),
                                ("frequency", "text", True), ("opened", "date", True)],
                    "account_id", [("district_id", "district")], [])
    client = Table("client", [("client_id", "int", True), ("district_id", "int", True),
                              ("birth_date", "date", True), ("gender", "text", True)],
                   "client_id", [("district_id", "district")], [])
    disposition = Table("disposition", [("disp_id", "int", True), ("account_id", "int", True),
                                        ("client_id", "int", True), ("type", "text", True)],
                        "disp_id", [("account_id", "account"), ("client_id", "client")], [])
    trans = Table("trans", [("trans_id", "int", True), ("account_id", "int", True),
                            ("trans_date", "date", True), ("type", "text", True),
                            ("operation", "text", False), ("amount", "numeric(10,2)", True),
                            ("balance", "numeric(12,2)", True)],
                  "trans_id", [("account_id", "account")], [])
    operations = [("PRIJEM", "VKLAD", 30), ("PRIJEM", "PREVOD Z UCTU", 12), ("PRIJEM", None, 18),
                  ("VYDAJ", "VYBER", 25), ("VYDAJ", "PREVOD NA UCET", 10),
                  ("VYDAJ", "VYBER KARTOU", 3), ("VYBER", "VYBER", 2)]
    for account_id in range(1, 901):
        district_id = rng.choices(range(1, 78), weights)[0]
        frequency = rng.choices(["POPLATEK MESICNE", "POPLATEK TYDNE", "POPLATEK PO OBRATU"],
                                [85, 10, 5])[0]
        opened = _day(rng, dt.date(1993, 1, 1), dt.date(1997, 12, 31))
        account.rows.append((account_id, district_id, frequency, opened))
        holders = ["OWNER"] + (["DISPONENT"] if rng.random() < 0.2 else [])
        for kind in holders:
            client_id = len(client.rows) + 1
            home = district_id if rng.random() < 0.9 else rng.randrange(1, 78)
            born = _day(rng, dt.date(1920, 1, 1), dt.date(1978, 12, 31))
            client.rows.append((client_id, home, born, rng.choice("FM")))
            disposition.rows.append((len(disposition.rows) + 1, account_id, client_id, kind))
        balance = _money(rng, 100, 1000)
        day = opened
        for _ in range(rng.choices(range(0, 13), [3] + [1] * 12)[0]):
            day += dt.timedelta(days=rng.randrange(0, 60))
            kind, operation, _w = rng.choices(operations, [w for *_, w in operations])[0]
            amount = _money(rng, 10, 5000 if kind == "PRIJEM" else 1500)
            balance += amount if kind == "PRIJEM" else -amount
            trans.rows.append((len(trans.rows) + 1, account_id, day, kind, operation, amount,
                               balance))
    # Dispositions are listed by account; client ids follow that order, as in Berka.
    return [district, account, client, disposition, trans]


CITIES = [
    "Berlin", "Paris", "London", "Madrid", "Rome", "Vienna", "Prague", "Oslo", "Lisbon", "Dublin",
    "Brussels", "Amsterdam", "Warsaw", "Budapest", "Helsinki", "Stockholm", "Copenhagen",
    "Athens", "Bern", "Lyon", "Porto", "Milan", "Munich", "Hamburg", "Cologne", "Seville", "Krakow",
    "Gdansk", "Brno", "Graz", "Turin", "Naples", "Bordeaux", "Nantes", "Lille", "Leeds", "Bristol",
    "Glasgow", "Cork", "Aarhus", "Bergen", "Uppsala", "Tampere", "Rotterdam", "Utrecht", "Antwerp",
    "Ghent", "Zurich", "Geneva", "Basel", "Salzburg", "Ljubljana", "Zagreb", "Belgrade", "Sofia",
    "Bucharest", "Riga", "Tallinn", "Vilnius", "Toronto", "Montreal", "Boston", "Chicago",
    "Seattle", "Denver", "Austin", "Portland", "Phoenix", "Dallas", "Miami", "Atlanta", "Detroit",
    "Sydney", "Melbourne", "Perth", "Auckland", "Santiago", "Lima", "Bogota", "Quito",
    "Sao Paulo", "Rio de Janeiro", "Buenos Aires", "Mexico City", "Guadalajara", "Monterrey",
    "Tokyo", "Osaka", "Seoul", "Delhi", "Mumbai", "Bangalore", "Chennai"]
FIRST = ["Anna", "Ben", "Clara", "David", "Eva", "Frank", "Greta", "Hans", "Ines", "Jan", "Karin",
         "Luis", "Maria", "Nils", "Olga", "Paul", "Rosa", "Sven", "Tina", "Uwe", "Vera", "Walter",
         "Yara", "Zoe", "Marco", "Julia", "Pedro", "Sofia", "Leo", "Mia", "Noah", "Emma", "Liam",
         "Ava", "Lucas", "Chloe", "Mateo", "Elena", "Oscar", "Lena"]
LAST = ["Smith", "Muller", "Dubois", "Garcia", "Rossi", "Novak", "Kowalski", "Jensen", "Silva",
        "Murphy", "Schmidt", "Martin", "Lopez", "Bianchi", "Svoboda", "Nowak", "Hansen", "Santos",
        "Kelly", "Fischer", "Bernard", "Perez", "Romano", "Dvorak", "Wisniewski", "Larsen",
        "Costa", "Walsh", "Weber", "Thomas", "Sanchez", "Ricci", "Cerny", "Lewandowski", "Berg"]
COUNTRIES = ["Germany", "France", "United Kingdom", "Spain", "Italy", "Czech Republic", "Poland",
             "USA", "Canada", "Brazil", "Australia", "India"]
GENRES = ["Rock", "Jazz", "Metal", "Alternative", "Blues", "Latin", "Reggae", "Pop", "Soundtrack",
          "Bossa Nova", "Easy Listening", "Heavy Metal", "R&B/Soul", "Electronica", "World",
          "Hip Hop/Rap", "Science Fiction", "TV Shows", "Sci Fi & Fantasy", "Drama", "Comedy",
          "Alternative & Punk", "Classical", "Opera", "Rock And Roll"]
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"]


def shop() -> list[Table]:
    """A shop: a 5-row status table, 8 employees (3 of them support reps), customers with
    nullable company/fax/state, products with text categories and numbers as text, orders."""
    rng = random.Random(SEED + 1)
    status = Table("status", [("status_id", "int", True), ("name", "varchar(20)", True)],
                   "status_id", [], [(i, name) for i, name in enumerate(STATUSES, start=1)])
    employee = Table("employee", [
        ("employee_id", "int", True), ("first_name", "varchar(20)", True),
        ("last_name", "varchar(20)", True), ("title", "varchar(30)", True),
        ("hire_date", "date", True), ("email", "varchar(60)", True)], "employee_id", [], [])
    titles = ["General Manager", "Sales Manager", "Sales Support Agent", "Sales Support Agent",
              "Sales Support Agent", "IT Manager", "IT Staff", "IT Staff"]
    for i, title in enumerate(titles, start=1):
        first, last = FIRST[i * 3], LAST[i * 2]
        employee.rows.append((i, first, last, title, _day(rng, dt.date(2002, 1, 1),
                                                          dt.date(2004, 1, 1)),
                              f"{first.lower()}@shop.example"))
    customer = Table("customer", [
        ("customer_id", "int", True), ("first_name", "varchar(40)", True),
        ("last_name", "varchar(20)", True), ("company", "varchar(80)", False),
        ("address", "varchar(70)", True), ("city", "varchar(15)", True),
        ("state", "varchar(40)", False), ("country", "varchar(40)", True),
        ("postal_code", "varchar(10)", False), ("phone", "varchar(24)", True),
        ("fax", "varchar(24)", False), ("email", "varchar(60)", True),
        ("support_rep_id", "int", True)], "customer_id", [("support_rep_id", "employee")], [])
    for i in range(1, 601):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = (f"{rng.choice(LAST)} {rng.choice(['GmbH', 'Ltd', 'Inc.', 'S.A.', 's.r.o.'])}"
                   if rng.random() < 0.17 else None)
        customer.rows.append((
            i, first, last, company,
            f"{rng.randrange(1, 300)} {rng.choice(LAST)} Street", rng.choice(CITIES),
            rng.choice(["CA", "NY", "TX", "ON", "QC", "SP", "RJ", "NSW", "VIC"])
            if rng.random() < 0.45 else None,
            rng.choice(COUNTRIES),
            None if rng.random() < 0.05 else f"{rng.randrange(10000, 99999)}",
            f"+{rng.randrange(1, 99)} {rng.randrange(100, 999)} {rng.randrange(1000000, 9999999)}",
            f"+{rng.randrange(1, 99)} {rng.randrange(100, 999)} {rng.randrange(1000000, 9999999)}"
            if rng.random() < 0.22 else None,
            f"{first.lower()}.{last.lower()}{i}@mail.example",
            rng.choices([3, 4, 5], [35, 33, 32])[0]))
    product = Table("product", [("product_id", "int", True), ("name", "varchar(120)", True),
                                ("genre", "text", True), ("size", "varchar(40)", True),
                                ("code", "varchar(20)", True), ("price", "numeric(8,2)", True)],
                    "product_id", [], [])
    genre_weights = [rng.uniform(1, 10) for _ in GENRES]
    sizes = ["36", "38", "40", "42", "44", "46", "48"]
    for i in range(1, 401):
        first = rng.choice(FIRST)
        label = rng.choice(["Classic", "Live", "Deluxe", "Gold", "Mix"])
        product.rows.append((i, f"{first} {label} {i}",
                             rng.choices(GENRES, genre_weights)[0],
                             rng.choices(sizes, [5, 12, 20, 25, 20, 12, 6])[0],
                             f"{rng.randrange(1, 99999):05d}", _money(rng, 0.99, 49.99)))
    orders = Table("orders", [("order_id", "int", True), ("customer_id", "int", True),
                              ("status_id", "int", True), ("ordered_at", "timestamp", True),
                              ("shipped_at", "timestamp", False)],
                   "order_id", [("customer_id", "customer"), ("status_id", "status")], [])
    line = Table("order_line", [("order_line_id", "int", True), ("order_id", "int", True),
                                ("product_id", "int", True), ("quantity", "int", True),
                                ("unit_price", "numeric(8,2)", True)],
                 "order_line_id", [("order_id", "orders"), ("product_id", "product")], [])
    start = dt.datetime(2021, 1, 1)
    for i in range(1, 2001):
        ordered = start + dt.timedelta(minutes=rng.randrange(0, 3 * 365 * 24 * 60))
        state = rng.choices(range(1, 6), [6, 10, 20, 58, 6])[0]
        shipped = (ordered + dt.timedelta(hours=rng.randrange(2, 24 * 9))
                   if state not in (1, 5) else None)
        orders.rows.append((i, rng.randrange(1, 601), state, ordered, shipped))
        for _ in range(rng.choices([1, 2, 3, 4, 5], [40, 25, 15, 12, 8])[0]):
            product_row = product.rows[rng.randrange(len(product.rows))]
            line.rows.append((len(line.rows) + 1, i, product_row[0], rng.choice([1, 1, 1, 2, 3]),
                              product_row[5]))
    return [status, employee, customer, product, orders, line]


def main() -> None:
    """Rewrite every schema's SQL files."""
    for name, build, title in (("bank", bank, "bank: a Berka-like bank"),
                               ("shop", shop, "shop: customers, products, orders")):
        tables = build()
        for dialect in DIALECTS:
            path = HERE / name / f"{name}{SUFFIX[dialect]}.sql"
            path.parent.mkdir(exist_ok=True)
            path.write_text(render(tables, dialect, f"{title} ({dialect})"))
        print(name, {t.name: len(t.rows) for t in tables})


if __name__ == "__main__":
    main()
