"""Issue 12, builder half: a validly signed bundle never runs code on the builder.

Each case signs a crafted bundle with the agent's key (``write_signed_bundle``, which does
not validate content, as a hostile agent would), runs the builder's commands on it, and
checks the refusal line, the exit code, and that the ``touch pwned`` payload never ran.
"""

from __future__ import annotations

import ast
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sec_builder_bundles import Builder, make_builder
from synthgate_builder.cli import app
from synthgate_builder.ssgcheck import TEXT_DIGEST_LINE, text_digest
from synthgate_shared.cli import run_app

PAYLOAD = "__import__('os').system('touch pwned')"
ORM: dict[str, Any] = {
    "synthgate-orm": 1,
    "source": {"dialect": "sqlite", "table_count": 1},
    "tables": {"users": {"columns": [
        {"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
        {"name": "name", "type": "text"}, {"name": "age", "type": "integer"}],
        "primary_key": ["id"]}},
}
STATS: dict[str, Any] = {"ages": {"query": "SELECT avg(age) AS a FROM users",
                                  "results": [{"a": 30}]}}


@pytest.fixture
def builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Builder:
    return make_builder(tmp_path, monkeypatch, capsys)


def _bundle(builder: Builder, config: dict[str, Any], orm: dict[str, Any] = ORM,
            stats: dict[str, Any] = STATS) -> Path:
    return builder.bundle(config, orm, stats)


def _users(generators: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"tables": {"users": {"num_rows_per_pass": 3, "row_generators": generators}},
            **extra}


def _assert_refused(builder: Builder, bundle: Path, *needles: str,
                    commands: tuple[str, ...] = ("validate-config", "create-generators")) -> None:
    for command in commands:
        code, err = builder.run(command, bundle=bundle)
        assert code == 1, (command, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
    assert not (builder.root / "pwned").exists()
    assert not (builder.root / "ssg.py").exists()


@pytest.mark.parametrize("module", [
    f"os; {PAYLOAD}", "__import__('os').system('touch pwned') or os", "os\nimport subprocess",
    "a.__class__", "import"])
def test_module_name_that_is_not_a_dotted_name(builder: Builder, module: str) -> None:
    bundle = _bundle(builder, _users([{"name": "f", "columns_assigned": "age"}],
                                   row_generators_module=module))
    _assert_refused(builder, bundle, "row_generators_module", "dotted Python name"
                    if "__class__" not in module and module != "import" else "keyword")
    code, err = builder.run("create-data", "--dsn", f"sqlite:///{builder.root}/d.db",
                            bundle=bundle)
    assert code == 1 and "row_generators_module" in err
    assert not (builder.root / "pwned").exists()


@pytest.mark.parametrize("name", [f"generic.person.name;{PAYLOAD}", "__import__",
                                  "os.system('touch pwned')"])
def test_generator_name_that_is_not_a_dotted_name(builder: Builder, name: str) -> None:
    bundle = _bundle(builder, _users([{"name": name, "columns_assigned": "name"}]))
    _assert_refused(builder, bundle, "tables.users.row_generators[0].name")


def test_story_generator_name_is_checked_too(builder: Builder) -> None:
    bundle = _bundle(builder, {"story_generators_module": "gens", "story_generators": [
        {"name": f"gens.s;{PAYLOAD}"}]})
    _assert_refused(builder, bundle, "story_generators[0].name", "dotted Python name")


@pytest.mark.parametrize("module", ["os", "subprocess", "builtins", "importlib", "sys",
                                    "shutil", "socket", "numpy", "sqlalchemy"])
def test_installed_or_standard_module_is_refused(builder: Builder, module: str) -> None:
    bundle = _bundle(builder, _users([{"name": "system", "args": ["touch pwned"],
                                     "columns_assigned": "age"}], row_generators_module=module))
    _assert_refused(builder, bundle, "row_generators_module", repr(module),
                    "SYNTHGATE_ALLOW_MODULES")


def test_a_dotted_name_of_an_installed_module_is_refused(builder: Builder) -> None:
    bundle = _bundle(builder, _users([{"name": "os.system", "args": ["touch pwned"],
                                     "columns_assigned": "age"}], row_generators_module="os"))
    _assert_refused(builder, bundle, "'os'", "standard-library")


def test_a_local_file_shadowing_an_installed_module_is_refused(builder: Builder) -> None:
    (builder.root / "json.py").write_text("def f():\n    return 1\n")
    bundle = _bundle(builder, _users([{"name": "f", "columns_assigned": "age"}],
                                   row_generators_module="json"))
    _assert_refused(builder, bundle, "'json'")


def test_the_operator_allow_list_opens_a_module(builder: Builder,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = _bundle(builder, _users([{"name": "floor", "args": [2.5], "columns_assigned": "age"}],
                                   row_generators_module="math"))
    _assert_refused(builder, bundle, "'math'")
    monkeypatch.setenv("SYNTHGATE_ALLOW_MODULES", "math")
    assert builder.run("create-generators", bundle=bundle)[0] == 0
    assert "math.floor(2.5)" in (builder.root / "ssg.py").read_text()


@pytest.mark.parametrize("key", [f"x={PAYLOAD},y", "a b", "1x", "class", "__class__", "é"])
def test_kwargs_key_that_is_not_an_identifier(builder: Builder, key: str) -> None:
    bundle = _bundle(builder, _users([{"name": "generic.person.name", "kwargs": {key: 1},
                                     "columns_assigned": "name"}]))
    _assert_refused(builder, bundle, "tables.users.row_generators[0].kwargs", "identifier")


def test_story_kwargs_key_injection(builder: Builder) -> None:
    bundle = _bundle(builder, {"story_generators_module": "gens", "story_generators": [
        {"name": "gens.story", "kwargs": {f"x={PAYLOAD},y": 1}}]})
    _assert_refused(builder, bundle, "story_generators[0].kwargs", "identifier")


HOSTILE_NAMES = [
    f'x"""\n{PAYLOAD}\n"""',
    f"x'''\n{PAYLOAD}\n'''",
    f"t');{PAYLOAD}#",
    f"t\n{PAYLOAD}",
    "naïve ünïcode 名前 \u2028 \\ end",
    "class",
    "__builtins__",
]


@pytest.mark.parametrize("table", HOSTILE_NAMES)
def test_table_and_column_names_are_data(builder: Builder, table: str) -> None:
    """A table and column named to break out of ssg.py's strings and docstrings are kept
    as strings: ssg.py is valid, runs nothing, and create-data fills the table."""
    orm = {**ORM, "tables": {table: {"columns": [
        {"name": "id", "type": "integer", "nullable": False, "autoincrement": True},
        {"name": table, "type": "text"}], "primary_key": ["id"]}}}
    bundle = _bundle(builder, {"tables": {table: {"num_rows_per_pass": 2, "row_generators": [
        {"name": "generic.person.name", "columns_assigned": table}]}}}, orm=orm)
    dsn = f"sqlite:///{builder.root}/dst.db"
    assert builder.run("create-generators", bundle=bundle)[0] == 0
    text = (builder.root / "ssg.py").read_text()
    ast.parse(text)
    assert builder.run("create-tables", "--dsn", dsn, bundle=bundle)[0] == 0
    code, err = builder.run("create-data", "--dsn", dsn, "--seed", "1", bundle=bundle)
    assert code == 0, err
    engine = sa.create_engine(dsn)
    with engine.connect() as conn:
        names = conn.execute(sa.select(sa.table(table, sa.column(table)))).scalars().all()
    engine.dispose()
    assert len(names) == 2 and all(isinstance(n, str) and n for n in names)
    assert not (builder.root / "pwned").exists()


def _generate(builder: Builder, bundle: Path) -> Path:
    code, err = builder.run("create-generators", bundle=bundle)
    assert code == 0, err
    return builder.root / "ssg.py"


def _create_data(builder: Builder, bundle: Path) -> tuple[int, str]:
    dsn = f"sqlite:///{builder.root}/dst-{uuid.uuid4().hex[:6]}.db"
    assert builder.run("create-tables", "--dsn", dsn, bundle=bundle)[0] == 0
    return builder.run("create-data", "--dsn", dsn, bundle=bundle)


GOOD = _users([{"name": "generic.person.name", "columns_assigned": "name"}])


@pytest.mark.parametrize("edit", [
    "\nimport os\nos.system('touch pwned')\n",
    f"\n{PAYLOAD}\n",
    "\nSRC_STATS['ages'] = [{'a': 99}]\n",
])
def test_ssg_edited_after_generation_is_refused_before_it_runs(builder: Builder,
                                                               edit: str) -> None:
    bundle = _bundle(builder, GOOD)
    ssg = _generate(builder, bundle)
    ssg.write_text(ssg.read_text() + edit)
    code, err = _create_data(builder, bundle)
    assert code == 1 and "ssg.py was edited after create-generators" in err
    assert len(err.strip().splitlines()) == 1
    assert not (builder.root / "pwned").exists()


def _redigest(text: str) -> str:
    """``text`` with a TEXT_DIGEST that matches it again (what an editor could forge)."""
    lines = [(f"{TEXT_DIGEST_LINE}{text_digest(text)!r}" if line.startswith(TEXT_DIGEST_LINE)
              else line) for line in text.splitlines()]
    return "\n".join(lines)


@pytest.mark.parametrize(("edit", "refusal"), [
    ("\nimport os\nos.system('touch pwned')\n", "an import of 'os'"),
    (f"\nx = {PAYLOAD}\n", "a call of something other than a name"),
    ("\nexec('touch')\n", "a statement create-generators never writes"),
    ("\nx = generic.__class__\n", "the private attribute '__class__'"),
    ("\ndef users(dst_db_conn):\n    import os\n    return {}\n", "an import inside a function"),
    ("\nclass X:\n    pass\n", "ClassDef code"),
    ("\nx = (lambda: 1)()\n", "Lambda code"),
    ("\nx = generic.person.name().format()\n", "a call of"),
    ("\nx = [c for c in ()]\n", "ListComp code"),
    # the statistics are the verified ones: ssg.py may not set them itself
    ("\nSRC_STATS = {'ages': [{'a': 99}]}\n", "an assignment create-generators never writes"),
    ("\nSRC_STATS['ages'] = [{'a': 99}]\n", "an assignment create-generators never writes"),
])
def test_ssg_with_code_the_renderer_never_writes_is_refused(builder: Builder, edit: str,
                                                            refusal: str) -> None:
    bundle = _bundle(builder, GOOD)
    ssg = _generate(builder, bundle)
    ssg.write_text(_redigest(ssg.read_text() + edit))
    code, err = _create_data(builder, bundle)
    assert code == 1 and "ssg.py holds line" in err and refusal in err, err
    assert not (builder.root / "pwned").exists()


def test_ssg_from_another_bundle_is_refused(builder: Builder) -> None:
    """ssg.py's code is made of config.yaml and orm.yaml: one made from another bundle's is
    refused in one line naming both bundles."""
    first = _bundle(builder, GOOD)
    _generate(builder, first)
    other_orm = _bundle(builder, GOOD, orm={**ORM, "tables": {"users": {
        **ORM["tables"]["users"], "comment": "changed"}}})
    other_config = _bundle(builder, _users([{"name": "generic.person.first_name",
                                            "columns_assigned": "name"}]))
    for bundle in (other_orm, other_config):
        code, err = _create_data(builder, bundle)
        assert code == 1, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "ssg.py was made from another config.yaml or orm.yaml" in err
        assert f"from those of bundle {first}, not of bundle {bundle}" in lines[0], err
    assert _create_data(builder, first)[0] == 0


def test_create_data_follows_the_statistics_of_the_bundle_it_verified(
        builder: Builder) -> None:
    """ssg.py holds no statistics: the same ssg.py with a bundle whose src-stats.yaml was
    changed and signed again makes rows from the new statistics (a user function reading
    a row by position, and a built-in distribution)."""
    (builder.root / "my_ages.py").write_text(textwrap.dedent("""
        def age(results):
            return int(results[0][0])
    """))
    config = _users([
        {"name": "age", "args": ['SRC_STATS["ages"]'], "columns_assigned": "age"},
        {"name": "synthgate.categorical", "kwargs": {"stats": 'SRC_STATS["names"]'},
         "columns_assigned": "name"}], row_generators_module="my_ages")
    config["tables"]["users"]["num_rows_per_pass"] = 20

    def stats(age: int, name: str) -> dict[str, Any]:
        return {"ages": {**STATS["ages"], "results": [{"a": age}]},
                "names": {"query": "SELECT name, count(*) AS n FROM users GROUP BY name",
                          "results": [{"name": name, "n": 20}]}}

    first = _bundle(builder, config, stats=stats(30, "Ann"))
    ssg = _generate(builder, first)
    made = ssg.read_text()
    assert "30" not in made and "Ann" not in made and "SRC_STATS = given_stats()" in made
    for bundle, expected in ((first, (30, "Ann")),
                             (_bundle(builder, config, stats=stats(77, "Bob")), (77, "Bob"))):
        dsn = f"sqlite:///{builder.root}/dst-{uuid.uuid4().hex[:6]}.db"
        assert builder.run("create-tables", "--dsn", dsn, bundle=bundle)[0] == 0
        code, err = builder.run("create-data", "--dsn", dsn, "--seed", "1", bundle=bundle)
        assert code == 0, err
        with sa.create_engine(dsn).connect() as conn:
            rows = set(conn.execute(sa.text("SELECT age, name FROM users")).all())
        assert rows == {expected}
    assert ssg.read_text() == made  # the same file both times
    # statistics the code refers to must be there: a bundle without them is refused
    code, err = _create_data(builder, _bundle(builder, config, stats={"ages": STATS["ages"]}))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "refers to statistic 'names', which is not in src-stats" in err, err


def test_user_module_next_to_ssg_still_works(builder: Builder) -> None:
    (builder.root / "my_gens_sec.py").write_text(textwrap.dedent("""
        def age(results):
            return int(results[0]["a"])
    """))
    bundle = _bundle(builder, _users([{"name": "age", "args": ['SRC_STATS["ages"]'],
                                     "columns_assigned": "age"}],
                                   row_generators_module="my_gens_sec"))
    _generate(builder, bundle)
    code, err = _create_data(builder, bundle)
    assert code == 0, err


def test_review_lists_the_code_names_and_the_refused_ones(builder: Builder) -> None:
    bundle = _bundle(builder, {
        "row_generators_module": "os", "story_generators_module": "my_stories",
        "tables": {"users": {"row_generators": [
            {"name": "system", "args": ["touch pwned"], "columns_assigned": "age"},
            {"name": f"generic.person.name;{PAYLOAD}", "kwargs": {f"x={PAYLOAD},y": 1},
             "columns_assigned": "name"}]}},
        "story_generators": [{"name": "my_stories.story"}]})
    code = run_app(app, "synthgate-builder", ["review", str(bundle), "--trust", str(builder.pub),
                                               "--out-dir", str(builder.root / "review")])
    assert code == 0
    md = (builder.root / "review" / "review.md").read_text()
    html = (builder.root / "review" / "review.html").read_text()
    section = md.split("## Generator code the builder runs")[1].split("## Files")[0]
    assert "| module | row_generators_module | os | a standard-library module" in section
    assert "| module | story_generators_module | my_stories |" in section
    assert "| row generator | tables.users.row_generators\\[0\\] | system |" in section
    assert "| story generator | story_generators\\[0\\] | my_stories.story |" in section
    assert section.count("not a dotted Python name") == 1
    assert "not a Python identifier" in section
    assert "the builder refuses this module" in md  # also a warning of the review
    assert "<script" not in html and "Generator code the builder runs" in html
    assert not (builder.root / "pwned").exists()


def test_statistics_values_are_data(builder: Builder) -> None:
    """src-stats strings that would break out of ssg.py, and NaN/infinities, stay values."""
    hostile = f'"""\n{PAYLOAD}\n"""'
    stats = {"ages": {"query": "SELECT 1", "results": [
        {"a": 30, hostile: hostile, "nan": float("nan"), "inf": float("-inf")}]}}
    bundle = _bundle(builder, GOOD, stats=stats)
    _generate(builder, bundle)
    code, err = _create_data(builder, bundle)
    assert code == 0, err
    assert not (builder.root / "pwned").exists()
