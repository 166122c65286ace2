"""Write demo/clinic.sql: the small, entirely invented sample source database of `make demo`.

Run once by a developer (the output is committed); deterministic for a fixed seed.
    python scripts/make-demo-source.py > demo/clinic.sql
"""

from __future__ import annotations

import datetime as dt
import random

FIRST = ["Ada", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea",
         "Max", "Nia", "Oto", "Pia", "Quin", "Rui", "Sol", "Tea", "Uma", "Vic", "Wen", "Xia"]
LAST = ["Abbot", "Berg", "Costa", "Dahl", "Evans", "Fox", "Grant", "Hale", "Ito", "Jones",
        "Khan", "Lund", "Moss", "Nash", "Ortiz", "Park", "Quade", "Ross", "Shah", "Tran"]
DEPARTMENTS = ["Cardiology", "Dermatology", "General practice", "Neurology", "Oncology",
               "Paediatrics", "Radiology"]
DRUGS = [("Amoxicillin", "antibiotic"), ("Atorvastatin", "statin"), ("Ibuprofen", "analgesic"),
         ("Lisinopril", "ace inhibitor"), ("Metformin", "antidiabetic"),
         ("Omeprazole", "proton pump inhibitor"), ("Paracetamol", "analgesic"),
         ("Salbutamol", "bronchodilator"), ("Sertraline", "antidepressant")]
STATUSES = ["booked", "attended", "attended", "attended", "cancelled", "no-show"]

SCHEMA = """\
-- An invented clinic: every name and value below is made up.
CREATE TABLE department (
    department_id INTEGER PRIMARY KEY,
    name VARCHAR(40) NOT NULL UNIQUE
);
CREATE TABLE drug (
    drug_code VARCHAR(12) PRIMARY KEY,
    name VARCHAR(60) NOT NULL,
    drug_class VARCHAR(40) NOT NULL
);
CREATE TABLE doctor (
    doctor_id INTEGER PRIMARY KEY AUTOINCREMENT,
    department_id INTEGER NOT NULL REFERENCES department (department_id),
    first_name VARCHAR(40) NOT NULL,
    last_name VARCHAR(40) NOT NULL,
    email VARCHAR(80) NOT NULL UNIQUE
);
CREATE TABLE patient (
    patient_id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_name VARCHAR(40) NOT NULL,
    last_name VARCHAR(40) NOT NULL,
    birth_date DATE NOT NULL,
    sex CHAR(1) NOT NULL CHECK (sex IN ('F', 'M', 'X')),
    postcode VARCHAR(10),
    registered_at TIMESTAMP NOT NULL
);
CREATE TABLE appointment (
    appointment_id INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id INTEGER NOT NULL REFERENCES patient (patient_id),
    doctor_id INTEGER NOT NULL REFERENCES doctor (doctor_id),
    starts_at TIMESTAMP NOT NULL,
    duration_min SMALLINT NOT NULL CHECK (duration_min BETWEEN 5 AND 120),
    status VARCHAR(10) NOT NULL,
    fee NUMERIC(7, 2)
);
CREATE TABLE prescription (
    appointment_id INTEGER NOT NULL REFERENCES appointment (appointment_id),
    drug_code VARCHAR(12) NOT NULL REFERENCES drug (drug_code),
    daily_doses SMALLINT NOT NULL,
    days INTEGER NOT NULL,
    PRIMARY KEY (appointment_id, drug_code)
);
"""


def sql(value: object) -> str:
    """A SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def insert(table: str, row: tuple[object, ...]) -> str:
    """One INSERT statement."""
    return f"INSERT INTO {table} VALUES ({', '.join(sql(v) for v in row)});"


def main() -> None:
    """Print the schema and the rows."""
    rng = random.Random(20261122)
    out = [SCHEMA, "BEGIN;"]
    for i, name in enumerate(DEPARTMENTS, 1):
        out.append(insert("department", (i, name)))
    for i, (name, cls) in enumerate(DRUGS, 1):
        out.append(insert("drug", (f"D{i:04d}", name, cls)))
    for i in range(1, 31):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first.lower()}.{last.lower()}{i}@clinic.example"
        out.append(insert("doctor", (i, rng.randint(1, len(DEPARTMENTS)), first, last, email)))
    base = dt.datetime(2024, 1, 1, 8, 0)
    for i in range(1, 401):
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randint(0, 29_000))
        postcode = None if rng.random() < 0.1 else f"ZZ{rng.randint(1, 9)} {rng.randint(1, 9)}QQ"
        registered = base + dt.timedelta(minutes=rng.randint(0, 500_000))
        out.append(insert("patient", (i, rng.choice(FIRST), rng.choice(LAST), birth.isoformat(),
                                      rng.choice("FFMMX"), postcode, str(registered))))
    appointment = 0
    for patient in range(1, 401):
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 6])):
            appointment += 1
            starts = base + dt.timedelta(days=rng.randint(0, 600), hours=rng.randint(0, 9))
            status = rng.choice(STATUSES)
            fee = None if status == "cancelled" else round(rng.uniform(20, 250), 2)
            out.append(insert("appointment", (appointment, patient, rng.randint(1, 30),
                                              str(starts), rng.choice([10, 15, 15, 20, 30, 45]),
                                              status, fee)))
            if status == "attended":
                for code in rng.sample(range(1, len(DRUGS) + 1), rng.choice([0, 1, 1, 2])):
                    out.append(insert("prescription", (appointment, f"D{code:04d}",
                                                       rng.randint(1, 3), rng.choice([5, 7, 14, 28]))))
    out.append("COMMIT;")
    print("\n".join(out))


if __name__ == "__main__":
    main()
