"""Issue 12, "Resource exhaustion from a signed bundle": validly signed bundles whose YAML or
vocabulary files are bombs are refused quickly, in modest memory (the builder runs under a
1 GB address-space limit), with one line; SIGTERM while loading ends the run with exit 130
and nothing kept."""

from __future__ import annotations

import gzip
import io
import json
import resource
import signal
import subprocess
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ROOT
from synthgate_shared.bundle import (
    GZIP_LEVEL,
    MANIFEST,
    SIGNATURE,
    TOP_FOLDER,
    build_manifest,
    file_entry,
    write_signed_bundle,
)
from synthgate_shared.signing import generate_keypair, key_id, load_private_key, sign

BUILDER = ROOT / ".venv" / "bin" / "synthgate-builder"
MEMORY = 1 << 30

ORM = """\
synthgate-orm: 1
source: {dialect: postgresql, schema: public, table_count: 1}
tables:
  word:
    columns:
    - {name: n, type: integer}
"""
CONFIG = "tables:\n  word:\n    vocabulary_table: true\n"
STATS = "{}\n"
_NOW = datetime(2024, 5, 1, tzinfo=UTC)
VOCAB_HEAD = b"synthgate-vocab: 1\ntable: word\ncolumns:\n  n: integer\nrows:\n"


def _laughs(indent: str = "") -> str:
    """The billion laughs: 9 levels of 9 aliases, 10**9 strings once expanded."""
    lines = [f'{indent}a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{indent}a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _env(tmp_path: Path, dsn: str = "") -> dict[str, str]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DST_DSN": dsn,
            "TMPDIR": str(tmp_path / "tmp")}


def _builder(tmp_path: Path, *args: str, dsn: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUILDER), *args], cwd=tmp_path, env=_env(tmp_path, dsn),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          preexec_fn=_limit_memory, check=False)


def _one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The refusal: exit 1, one line on stderr holding every ``expected`` text, no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def _keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keypair(tmp_path / "keys" / "agent")


def _signed(tmp_path: Path, config: str = CONFIG, orm: str = ORM, stats: str = STATS,
            vocab: dict[str, bytes] | None = None) -> tuple[Path, Path]:
    """A bundle signed the way the agent signs one (the agent's own checks skipped)."""
    key, pub = _keys(tmp_path)
    src = tmp_path / "src"
    (src / "vocab").mkdir(parents=True)
    files = {}
    for rel, text in (("config.yaml", config), ("orm.yaml", orm), ("src-stats.yaml", stats)):
        (src / rel).write_text(text)
        files[rel] = src / rel
    for rel, data in (vocab or {}).items():
        (src / rel).write_bytes(data)
        files[rel] = src / rel
    bundle = tmp_path / "bundle.tar.gz"
    write_signed_bundle(bundle, files, load_private_key(key), agent_version="test",
                        created_at=_NOW, source={"dialect": "postgresql"}, privacy={})
    return bundle, pub


def _crafted(tmp_path: Path, vocab_name: str, vocab: bytes,
             recorded: int | None) -> tuple[Path, Path]:
    """A validly signed bundle holding ``vocab`` whose manifest records ``recorded`` as its
    uncompressed size (or nothing), written member by member, without unpacking the bomb."""
    key, pub = _keys(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    contents = {"config.yaml": CONFIG.encode(), "orm.yaml": ORM.encode(),
                "src-stats.yaml": STATS.encode(), f"vocab/{vocab_name}": vocab}
    entries = []
    for rel, data in contents.items():
        (src / rel.replace("/", "_")).write_bytes(data)
        entries.append(file_entry(rel, src / rel.replace("/", "_")))
    unpacked = {f"vocab/{vocab_name}": recorded} if recorded is not None else None
    manifest = build_manifest(entries, agent_version="test", created_at=_NOW,
                              source={"dialect": "postgresql"}, privacy={},
                              signer_key_id=key_id(load_private_key(key).public_key()),
                              unpacked=unpacked)
    contents |= {MANIFEST: manifest, SIGNATURE: sign(load_private_key(key), manifest)}
    bundle = tmp_path / "bundle.tar.gz"
    with (open(bundle, "wb") as raw,
          gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                        compresslevel=GZIP_LEVEL) as gz,
          tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar):
        for rel in sorted(contents):
            info = tarfile.TarInfo(f"{TOP_FOLDER}/{rel}")
            info.size, info.mode = len(contents[rel]), 0o644
            tar.addfile(info, io.BytesIO(contents[rel]))
    return bundle, pub


def _gzip_bomb(unit: bytes, copies: int) -> bytes:
    """Gzip members of ``unit`` repeated: a few hundred KB unpacking to gigabytes."""
    member = gzip.compress(unit, compresslevel=9, mtime=0)
    return gzip.compress(VOCAB_HEAD, mtime=0) + member * copies


# ---------------------------------------------------------------------------- YAML bombs


def test_billion_laughs_in_src_stats_is_refused_by_verify(tmp_path: Path) -> None:
    stats = _laughs() + "q:\n  query: SELECT 1\n  results: [{n: *a8}]\n"
    bundle, pub = _signed(tmp_path, stats=stats)
    started = time.perf_counter()
    result = _builder(tmp_path, "verify", str(bundle), "--trust", str(pub))
    _one_line(result, "src-stats.yaml", "refused YAML: aliases expand to more than 100000")
    assert time.perf_counter() - started < 60  # measured, not a limit: the bomb took 32 s


def test_billion_laughs_in_orm_enums_is_refused_by_verify(tmp_path: Path) -> None:
    orm = ORM + "enums:\n" + _laughs("  ") + "  mood: *a8\n"
    bundle, pub = _signed(tmp_path, orm=orm)
    _one_line(_builder(tmp_path, "verify", str(bundle), "--trust", str(pub)),
              "orm.yaml", "refused YAML: aliases expand")


def test_billion_laughs_in_config_kwargs_is_refused(tmp_path: Path) -> None:
    config = _laughs() + ("tables:\n  word:\n    row_generators:\n"
                          "    - {name: generic.text.word, columns_assigned: [n],"
                          " kwargs: {x: *a8}}\n")
    bundle, pub = _signed(tmp_path, config=config)
    _one_line(_builder(tmp_path, "create-generators", "--bundle", str(bundle), "--trust",
                       str(pub)), "config.yaml", "refused YAML: aliases expand")
    assert not (tmp_path / "ssg.py").exists()


@pytest.mark.parametrize(("document", "text", "expected"), [
    ("src-stats.yaml", "[" * 200_000 + "]" * 200_000, "nested deeper than 200 levels"),
    ("orm.yaml", "a: &a [*a]\n", "refers to a node that contains it"),
    ("src-stats.yaml", "q: {results: [{n: " + "9" * 5000 + "}]}\n", "digits"),
])
def test_deep_recursive_or_huge_yaml_is_one_line(tmp_path: Path, document: str, text: str,
                                                 expected: str) -> None:
    """200,000 brackets crashed the interpreter (segmentation fault) before the check."""
    bundle, pub = _signed(tmp_path, **{{"src-stats.yaml": "stats",
                                        "orm.yaml": "orm"}[document]: text})
    _one_line(_builder(tmp_path, "verify", str(bundle), "--trust", str(pub)), document,
              expected)


def test_loose_yaml_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "orm.yaml").write_text(ORM)
    _one_line(_builder(tmp_path, "create-generators", "--config-file", "/dev/zero"),
              "/dev/zero", "not a regular file")


# ---------------------------------------------------------------------------- vocabulary bombs


def _word_table(pg_url: str) -> sa.Engine:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE word (n integer)")
    return engine


def _rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM word").scalar_one())


@pytest.mark.parametrize(("unit", "copies", "recorded", "expected"), [
    # 12 GB recorded in the signed manifest: refused before anything is unpacked
    (b"\n" * (64 << 20), 192, 192 * (64 << 20) + len(VOCAB_HEAD),
     "manifest entry says it unpacks to 12884901947 bytes"),
    # nothing recorded (an older agent): refused at 200x its packed size, at least 64 MB
    (b"\n" * (64 << 20), 3, None, "refused vocabulary file: it unpacks to more than 67108864"),
    # the manifest understates it
    (b"\n" * (64 << 20), 192, 1000, "unpacks to more than the 1000 bytes its manifest"),
    # one line of 12 GB
    (b"x" * (64 << 20), 192, None, "a line longer than 67108864 bytes"),
])
def test_gzip_bomb_vocabulary_is_refused_quickly(pg_url: str, tmp_path: Path, unit: bytes,
                                                 copies: int, recorded: int | None,
                                                 expected: str) -> None:
    engine = _word_table(pg_url)
    bomb = _gzip_bomb(unit, copies)
    assert len(bomb) < 16 << 20
    bundle, pub = _crafted(tmp_path, "word.yaml.gz", bomb, recorded)
    result = _builder(tmp_path, "create-vocab", "--bundle", str(bundle), "--trust", str(pub),
                      dsn=pg_url)
    line = _one_line(result, "bundle.tar.gz: vocab/word.yaml.gz", expected)
    assert "COPY" not in line  # the file's own error, not the driver's report of it
    assert _rows(engine) == 0
    assert not list((tmp_path / "tmp").iterdir())  # the extracted bundle folder is gone
    engine.dispose()


@pytest.mark.parametrize(("body", "expected"), [
    (b"synthgate-vocab: 1\ntable: word\ncolumns:\n  n: integer\n" + b"- {\"n\": 1}\n" * 10,
     "no 'rows:' line after the header"),
    (VOCAB_HEAD + b'- {"n": 1}\n- {"n": 2}\n', "truncated (no row_count at its end)"),
    (VOCAB_HEAD + b'- {"n": 1}\n- {"n": 2}\nrow_co', "unexpected line"),
    (VOCAB_HEAD + b'- {"n": 1}\n- {"n": 2}\nrow_count: 3\n', "row_count says 3 rows"),
])
def test_damaged_vocabulary_file_is_one_line_and_loads_nothing(
        pg_url: str, tmp_path: Path, body: bytes, expected: str) -> None:
    engine = _word_table(pg_url)
    bundle, pub = _signed(tmp_path, vocab={"vocab/word.yaml": body})
    result = _builder(tmp_path, "create-vocab", "--bundle", str(bundle), "--trust", str(pub),
                      dsn=pg_url)
    _one_line(result, "word.yaml", expected)
    assert _rows(engine) == 0
    engine.dispose()


def test_loose_vocabulary_bomb_honours_max_vocab_size(pg_url: str, tmp_path: Path) -> None:
    engine = _word_table(pg_url)
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "word.yaml.gz").write_bytes(_gzip_bomb(b"\n" * (1 << 20), 64))
    (tmp_path / "orm.yaml").write_text(ORM)
    (tmp_path / "config.yaml").write_text(CONFIG)
    result = _builder(tmp_path, "create-vocab", "--max-vocab-size", "1M", dsn=pg_url)
    _one_line(result, "word.yaml.gz", "unpacks to more than 1048576 bytes",
              "--max-vocab-size")
    assert _rows(engine) == 0
    engine.dispose()


def test_sigterm_while_loading_a_vocabulary_rolls_back(pg_url: str, tmp_path: Path) -> None:
    """Loading rows from a large (trusted: --max-vocab-size) file is stopped by SIGTERM."""
    engine = _word_table(pg_url)
    rows = 1 << 21
    chunk = b'- {"n": 7}\n' * rows
    copies = 64
    data = gzip.compress(VOCAB_HEAD, mtime=0) + gzip.compress(chunk, mtime=0) * copies \
        + gzip.compress(f"row_count: {rows * copies}\n".encode(), mtime=0)
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "word.yaml.gz").write_bytes(data)
    (tmp_path / "orm.yaml").write_text(ORM)
    (tmp_path / "config.yaml").write_text(CONFIG)
    run = subprocess.Popen([str(BUILDER), "create-vocab", "--max-vocab-size", "100G"],
                           cwd=tmp_path, env=_env(tmp_path, pg_url), text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, preexec_fn=_limit_memory)
    while not _copying(engine):
        assert run.poll() is None, run.communicate()
        time.sleep(0.05)
    time.sleep(0.5)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate()
    assert run.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert _rows(engine) == 0
    engine.dispose()


def _copying(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'COPY%%' AND state = 'active'").scalar_one())


def test_signed_bundle_records_uncompressed_sizes(tmp_path: Path) -> None:
    body = VOCAB_HEAD + b'- {"n": 1}\nrow_count: 1\n'
    bundle, _ = _signed(tmp_path, vocab={"vocab/word.yaml.gz": gzip.compress(body, mtime=0)})
    with tarfile.open(bundle, "r:gz") as tar:
        member = tar.extractfile(f"{TOP_FOLDER}/{MANIFEST}")
        assert member is not None
        files = {f["path"]: f for f in json.load(member)["files"]}
    assert files["vocab/word.yaml.gz"]["uncompressed_size"] == len(body)
    assert "uncompressed_size" not in files["config.yaml"]
