"""The bundle: deterministic signed tarball, verification against every kind of tampering,
reviewer approvals, the agent's bundle command and the builder's inputs and verify command."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from synthgate_agent.bundle import pack_bundle
from synthgate_builder.inputs import load_inputs
from synthgate_shared.bundle import (
    GZIP_LEVEL,
    VerifiedBundle,
    add_approval,
    verify_bundle,
)
from synthgate_shared.errors import SynthgateError
from synthgate_shared.signing import (
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    sign,
)
from synthgate_shared.srcstats import privacy_summary
from synthgate_shared.tarscan import DEFAULT_LIMITS, GZIP_HEADER, TOP_FOLDER, Limits

CONFIG = """\
tables:
  country:
    vocabulary_table: true
  language:
    vocabulary_table: true
  film:
    num_rows_per_pass: 2
src-stats:
- name: films_per_rating
  query: SELECT rating, count(*) AS n FROM film GROUP BY rating
"""

ORM = """\
synthgate-orm: 1
source: {dialect: postgresql, server_version: '16.2', schema: public, table_count: 3}
tables:
  country:
    columns:
    - {name: country_id, type: integer, nullable: false}
    - {name: country, type: text, nullable: false}
    primary_key: [country_id]
  language:
    columns:
    - {name: language_id, type: integer, nullable: false}
    - {name: name, type: text, nullable: false}
    primary_key: [language_id]
  film:
    columns:
    - {name: film_id, type: integer, nullable: false, autoincrement: true}
    - {name: rating, type: text}
    primary_key: [film_id]
"""

STATS = """\
films_per_rating:
  query: SELECT rating, count(*) AS n FROM film GROUP BY rating
  ran_at: 2024-05-01 10:00:00
  min_count: 7
  count_column: n
  suppressed_rows: 0
  results:
  - {rating: G, n: 178}
  - {rating: PG, n: 194}
mean_length:
  query: SELECT length FROM film
  dp-query: SELECT AVG(length) AS mean FROM query_result
  epsilon: 0.5
  delta: 1.0e-06
  results:
  - {mean: 115.3}
count_films:
  query: SELECT rating FROM film
  dp-query: SELECT COUNT(*) AS n FROM query_result
  epsilon: 0.25
  results:
  - {n: 1000}
"""


def _vocab_text(table: str, columns: dict[str, str], rows: list[str]) -> str:
    head = "".join(f"  {c}: {t}\n" for c, t in columns.items())
    body = "".join(f"- {r}\n" for r in rows)
    return (f"synthgate-vocab: 1\ntable: {table}\ncolumns:\n{head}rows:\n{body}"
            f"row_count: {len(rows)}\n")


@dataclass
class Inputs:
    """Agent output files and keys in a temporary folder."""

    root: Path
    config: Path
    orm: Path
    stats: Path
    vocab: Path
    agent_key: Path
    agent_pub: Path
    reviewer_key: Path
    reviewer_pub: Path

    def pack(self, out: str = "bundle.tar.gz", **kwargs: object) -> Path:
        return pack_bundle(self.root / out, self.agent_key, self.config, self.orm, self.stats,
                           self.vocab, **kwargs)  # type: ignore[arg-type]

    def verify(self, bundle: Path, approvals: bool = False,
               limits: Limits = DEFAULT_LIMITS) -> VerifiedBundle:
        required = [load_public_key(self.reviewer_pub)] if approvals else []
        return verify_bundle(bundle, [load_public_key(self.agent_pub)], required, limits)


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Inputs:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    (tmp_path / "vocab").mkdir()
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "orm.yaml").write_text(ORM)
    (tmp_path / "src-stats.yaml").write_text(STATS)
    (tmp_path / "vocab" / "country.yaml").write_text(_vocab_text(
        "country", {"country_id": "integer", "country": "text"},
        ['{"country_id": 1, "country": "Afghanistan"}', '{"country_id": 2, "country": "Ísland"}']))
    with gzip.GzipFile(tmp_path / "vocab" / "language.yaml.gz", "wb", mtime=0) as gz:
        gz.write(_vocab_text("language", {"language_id": "integer", "name": "text"},
                             ['{"language_id": 1, "name": "English"}']).encode())
    agent_key, agent_pub = generate_keypair(tmp_path / "keys" / "agent")
    reviewer_key, reviewer_pub = generate_keypair(tmp_path / "keys" / "reviewer")
    return Inputs(tmp_path, tmp_path / "config.yaml", tmp_path / "orm.yaml",
                  tmp_path / "src-stats.yaml", tmp_path / "vocab", agent_key, agent_pub,
                  reviewer_key, reviewer_pub)


# ---------------------------------------------------------------------------- helpers

Member = tuple[tarfile.TarInfo, bytes]


def read_members(bundle: Path) -> list[Member]:
    with tarfile.open(bundle, "r:gz") as tar:
        return [(info, tar.extractfile(info).read() if info.isreg() else b"")  # type: ignore[union-attr]
                for info in tar.getmembers()]


def write_members(path: Path, members: list[Member]) -> Path:
    """Write members as a canonical-looking bundle (so the check under test is the one hit)."""
    with (open(path, "wb") as raw,
          gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                        compresslevel=GZIP_LEVEL) as gz,
          tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar):
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def member(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE,
           link: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info, data


def tampered(bundle: Path, edit: Callable[[list[Member]], list[Member]]) -> Path:
    return write_members(bundle.with_name("tampered.tar.gz"), edit(read_members(bundle)))


def replace(members: list[Member], rel: str, data: bytes) -> list[Member]:
    return [(i, data if i.name == f"{TOP_FOLDER}/{rel}" else d) for i, d in members]


def manifest_of(members: list[Member]) -> Any:
    return json.loads(dict((i.name, d) for i, d in members)[f"{TOP_FOLDER}/manifest.json"])


def resigned(members: list[Member], manifest: bytes, key: Ed25519PrivateKey) -> list[Member]:
    members = replace(members, "manifest.json", manifest)
    return replace(members, "manifest.sig", sign(key, manifest))


# ---------------------------------------------------------------------------- writing


def test_same_inputs_give_the_same_bytes(inputs: Inputs) -> None:
    first = inputs.pack("a.tar.gz").read_bytes()
    second = inputs.pack("b.tar.gz").read_bytes()
    assert first == second
    assert first[:10] == GZIP_HEADER
    # a newer input file changes the creation time (and so the bytes)
    os.utime(inputs.config, (2_000_000_000, 2_000_000_000))
    assert inputs.pack("c.tar.gz").read_bytes() != first


def test_creation_time_from_option_or_source_date_epoch(inputs: Inputs,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    bundle = inputs.pack(created_at=when)
    assert manifest_of(read_members(bundle))["created_at"] == "2024-01-02T03:04:05Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(when.timestamp())))
    assert inputs.pack("env.tar.gz").read_bytes() == bundle.read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(SynthgateError, match=r"SOURCE_DATE_EPOCH"):
        inputs.pack("bad.tar.gz")


def test_tarball_layout_is_canonical(inputs: Inputs) -> None:
    when = datetime(2024, 1, 2, tzinfo=UTC)
    members = read_members(inputs.pack(created_at=when))
    names = [i.name for i, _ in members]
    assert names == sorted(names)
    assert [n.removeprefix(f"{TOP_FOLDER}/") for n in names] == [
        "config.yaml", "manifest.json", "manifest.sig", "orm.yaml", "src-stats.yaml",
        "vocab/country.yaml", "vocab/language.yaml.gz"]
    for info, _ in members:
        assert info.isreg() and info.mode == 0o644 and info.uid == info.gid == 0
        assert info.uname == info.gname == "" and info.mtime == int(when.timestamp())
    data = dict((i.name.removeprefix(f"{TOP_FOLDER}/"), d) for i, d in members)
    assert data["config.yaml"] == inputs.config.read_bytes()
    assert data["vocab/language.yaml.gz"] == (inputs.vocab / "language.yaml.gz").read_bytes()


def test_manifest_content(inputs: Inputs) -> None:
    manifest = manifest_of(read_members(inputs.pack()))
    assert manifest["format"] == "synthgate-bundle" and manifest["format_version"] == 1
    assert manifest["agent_version"]
    assert manifest["source"] == {"dialect": "postgresql", "server_version": "16.2",
                                  "schema": "public", "table_count": 3}
    assert [f["path"] for f in manifest["files"]] == [
        "config.yaml", "orm.yaml", "src-stats.yaml", "vocab/country.yaml",
        "vocab/language.yaml.gz"]
    config_entry = manifest["files"][0]
    assert config_entry["size"] == inputs.config.stat().st_size
    assert len(config_entry["sha256"]) == 64
    assert manifest["privacy"] == {
        "composition": "basic",
        "queries": [{"name": "mean_length", "epsilon": 0.5, "delta": 1e-06},
                    {"name": "count_films", "epsilon": 0.25, "delta": 0.0}],
        "total": {"epsilon": 0.75, "delta": 1e-06},
    }
    assert "password" not in json.dumps(manifest)


def test_privacy_summary_refuses_a_bad_epsilon() -> None:
    with pytest.raises(SynthgateError, match=r"q1: epsilon is not a number"):
        privacy_summary({"q1": {"dp-query": "SELECT 1", "epsilon": "lots"}})
    assert privacy_summary({})["total"] == {"epsilon": 0.0, "delta": 0.0}


def test_privacy_totals_are_exact_sums() -> None:
    stats = {n: {"dp-query": "SELECT 1", "epsilon": e, "delta": d}
             for n, e, d in (("a", 0.1, 1e-6), ("b", 0.2, 2e-6), ("plain", None, None))}
    stats["plain"] = {"query": "SELECT 1"}
    assert privacy_summary(stats)["total"] == {"epsilon": 0.3, "delta": 3e-6}


def test_vocabulary_table_without_its_file(inputs: Inputs) -> None:
    (inputs.vocab / "language.yaml.gz").unlink()
    with pytest.raises(SynthgateError, match=r"'language' has no file.*make-vocab"):
        inputs.pack()
    assert not (inputs.root / "bundle.tar.gz").exists()
    assert not [p for p in inputs.root.iterdir() if p.name.endswith(".tmp")]


def test_only_vocabulary_tables_of_the_config_are_packed(inputs: Inputs) -> None:
    (inputs.vocab / "secret_people.yaml").write_text("rows: []\n")
    names = [i.name for i, _ in read_members(inputs.pack())]
    assert not any("secret_people" in n for n in names)


def test_bundle_refuses_to_overwrite_and_checks_the_key_first(inputs: Inputs) -> None:
    bundle = inputs.pack()
    with pytest.raises(SynthgateError, match=r"already exists"):
        inputs.pack()
    inputs.agent_key.chmod(0o644)
    with pytest.raises(SynthgateError, match=r"chmod 600"):
        inputs.pack(force=True)
    with pytest.raises(SynthgateError, match=r"private key file not found"):
        pack_bundle(bundle, inputs.root / "missing.pem", inputs.config, inputs.orm,
                    inputs.stats, inputs.vocab, force=True)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl binary is not installed")
def test_bundle_signature_checks_with_openssl(inputs: Inputs) -> None:
    data = dict((i.name, d) for i, d in read_members(inputs.pack()))
    (inputs.root / "manifest.json").write_bytes(data[f"{TOP_FOLDER}/manifest.json"])
    (inputs.root / "manifest.sig").write_bytes(data[f"{TOP_FOLDER}/manifest.sig"])
    done = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(inputs.agent_pub), "-rawin",
         "-in", "manifest.json", "-sigfile", "manifest.sig"],
        cwd=inputs.root, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout


# ---------------------------------------------------------------------------- verifying


def test_verify_accepts_the_untouched_bundle(inputs: Inputs, tmp_path: Path) -> None:
    bundle = inputs.pack()
    verified = inputs.verify(bundle)
    assert verified.signer_key_id == key_id(load_public_key(inputs.agent_pub))
    assert verified.approvals == ()
    assert verified.documents["config.yaml"] == inputs.config.read_bytes()
    assert verified.vocab_files == {"country": "vocab/country.yaml",
                                    "language": "vocab/language.yaml.gz"}
    out = tmp_path / "out"
    out.mkdir()
    paths = verified.extract(out, ["vocab/country.yaml", "vocab/language.yaml.gz"])
    assert paths["vocab/country.yaml"].read_bytes() == (inputs.vocab / "country.yaml").read_bytes()
    assert sorted(p.name for p in (out / "vocab").iterdir()) == ["country.yaml",
                                                               "language.yaml.gz"]


TAMPERINGS: dict[str, tuple[Callable[[list[Member]], list[Member]], str]] = {
    "changed config": (lambda m: replace(m, "config.yaml", b"tables: {}\n"),
                       "config.yaml: refused member: content does not match the manifest"),
    "changed vocabulary": (
        lambda m: [(i, d.replace(b"Afghanistan", b"Afghanistam")) for i, d in m],
        "vocab/country.yaml: refused member: content does not match the manifest"),
    "added file": (lambda m: [*m, member(f"{TOP_FOLDER}/extra.yaml")],
                   "extra.yaml: refused member: file not listed in the manifest"),
    "added vocabulary file": (lambda m: [*m, member(f"{TOP_FOLDER}/vocab/people.yaml")],
                              "people.yaml: refused member: file not listed in the manifest"),
    "added approval-like file": (lambda m: [*m, member(f"{TOP_FOLDER}/approvals/x.sig")],
                                 "approvals/x.sig: refused member: file not listed"),
    "removed file": (lambda m: [x for x in m if not x[0].name.endswith("country.yaml")],
                     "vocab/country.yaml: file listed in the manifest is missing"),
    "removed signature": (lambda m: [x for x in m if not x[0].name.endswith("manifest.sig")],
                          "has no manifest.sig"),
    "removed manifest": (lambda m: [x for x in m if not x[0].name.endswith("manifest.json")],
                         "has no manifest.json"),
    "symlink": (lambda m: [*m, member(f"{TOP_FOLDER}/vocab/link.yaml", b"", tarfile.SYMTYPE,
                                      "/etc/passwd")],
                "vocab/link.yaml: refused member: symbolic link"),
    "hardlink": (lambda m: [*m, member(f"{TOP_FOLDER}/vocab/hard.yaml", b"", tarfile.LNKTYPE,
                                       f"{TOP_FOLDER}/config.yaml")],
                 "vocab/hard.yaml: refused member: hard link"),
    "directory": (lambda m: [member(f"{TOP_FOLDER}/vocab", b"", tarfile.DIRTYPE), *m],
                  "refused member: not a regular file"),
    "fifo": (lambda m: [*m, member(f"{TOP_FOLDER}/pipe", b"", tarfile.FIFOTYPE)],
             "pipe: refused member: not a regular file"),
    "absolute path": (lambda m: [*m, member("/etc/cron.d/evil")],
                      "/etc/cron.d/evil: refused member: absolute path"),
    "dot-dot path": (lambda m: [*m, member(f"{TOP_FOLDER}/../../evil")],
                     "refused member: path contains '..'"),
    "outside the folder": (lambda m: [*m, member("other/config.yaml")],
                           "other/config.yaml: refused member: outside the bundle folder"),
    "duplicate member": (lambda m: [*m, (m[0][0], b"tables: {}\n")],
                         "config.yaml: refused member: duplicate name"),
    "not normalised": (lambda m: [*m, member(f"{TOP_FOLDER}//config.yaml")],
                       "refused member: path is not in normal form"),
    "empty archive": (lambda m: [], "the bundle is empty"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERINGS))
def test_verify_refuses_tampering(inputs: Inputs, kind: str) -> None:
    edit, message = TAMPERINGS[kind]
    bad = tampered(inputs.pack(), edit)
    with pytest.raises(SynthgateError) as info:
        inputs.verify(bad)
    assert message in str(info.value)
    assert str(bad) in str(info.value)


def test_canonical_rewrite_of_untouched_members_still_verifies(inputs: Inputs) -> None:
    # guards the tampering tests: the rewrite itself is not what they refuse
    inputs.verify(tampered(inputs.pack(), lambda m: m))


@pytest.mark.parametrize("rel", ["config.yaml", "orm.yaml", "src-stats.yaml",
                                 "vocab/country.yaml", "vocab/language.yaml.gz",
                                 "manifest.json", "manifest.sig"])
def test_verify_refuses_a_flipped_byte_in_any_member(inputs: Inputs, rel: str) -> None:
    def flip(members: list[Member]) -> list[Member]:
        out = []
        for info, data in members:
            if info.name == f"{TOP_FOLDER}/{rel}":
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
            out.append((info, data))
        return out

    with pytest.raises(SynthgateError) as info:
        inputs.verify(tampered(inputs.pack(), flip))
    assert rel.split("/")[-1] in str(info.value) or "manifest" in str(info.value)


def test_verify_refuses_a_flipped_byte_in_the_file(inputs: Inputs) -> None:
    bundle = inputs.pack()
    data = bundle.read_bytes()
    for position in (3, 5, 9, 10, len(data) // 3, len(data) // 2, len(data) - 8, len(data) - 1):
        bad = bundle.with_name("flipped.tar.gz")
        bad.write_bytes(data[:position] + bytes([data[position] ^ 0x40]) + data[position + 1:])
        with pytest.raises(SynthgateError):
            inputs.verify(bad)
    bundle.with_name("extra.tar.gz").write_bytes(data + b"\0\0\0\0")
    with pytest.raises(SynthgateError, match=r"data after the end"):
        inputs.verify(bundle.with_name("extra.tar.gz"))
    bundle.with_name("short.tar.gz").write_bytes(data[:-20])
    with pytest.raises(SynthgateError, match=r"truncated|corrupt"):
        inputs.verify(bundle.with_name("short.tar.gz"))
    (inputs.root / "plain.tar").write_bytes(b"not gzip at all")
    with pytest.raises(SynthgateError, match=r"not a synthgate bundle"):
        inputs.verify(inputs.root / "plain.tar")
    with pytest.raises(SynthgateError, match=r"bundle file not found"):
        inputs.verify(inputs.root / "missing.tar.gz")


def test_verify_refuses_oversized_members_and_bundles(inputs: Inputs) -> None:
    bundle = inputs.pack()
    with pytest.raises(SynthgateError, match=r"config.yaml: refused member: too large"):
        inputs.verify(bundle, limits=Limits(member_bytes=100))
    with pytest.raises(SynthgateError, match=r"bundle too large"):
        inputs.verify(bundle, limits=Limits(bundle_bytes=100))
    with pytest.raises(SynthgateError, match=r"unpacks to more than 2000 bytes"):
        inputs.verify(bundle, limits=Limits(unpacked_bytes=2000))
    with pytest.raises(SynthgateError, match=r"more than 3 members"):
        inputs.verify(bundle, limits=Limits(members=3))
    with pytest.raises(SynthgateError, match=r"manifest.json: refused member: too large"):
        inputs.verify(bundle, limits=Limits(document_bytes=600))


def test_verify_refuses_a_manifest_that_is_not_json(inputs: Inputs) -> None:
    key = load_private_key(inputs.agent_key)
    bad = tampered(inputs.pack(), lambda m: resigned(m, b"{not json", key))
    with pytest.raises(SynthgateError, match=r"manifest.json: manifest.json is not valid JSON"):
        inputs.verify(bad)


def test_verify_refuses_an_unknown_format_version(inputs: Inputs) -> None:
    key = load_private_key(inputs.agent_key)

    def bump(members: list[Member]) -> list[Member]:
        manifest = manifest_of(members)
        manifest["format_version"] = 2
        return resigned(members, json.dumps(manifest).encode(), key)

    with pytest.raises(SynthgateError, match=r"unsupported bundle format version 2"):
        inputs.verify(tampered(inputs.pack(), bump))


def test_verify_refuses_a_manifest_re_signed_with_another_key(inputs: Inputs) -> None:
    intruder = Ed25519PrivateKey.generate()

    def edit(members: list[Member], claim_agent: bool) -> list[Member]:
        members = replace(members, "config.yaml", b"tables: {}\n")
        manifest = manifest_of(members)
        manifest["files"][0]["size"] = len(b"tables: {}\n")
        manifest["files"][0]["sha256"] = hashlib.sha256(b"tables: {}\n").hexdigest()
        if not claim_agent:
            manifest["signer"]["key_id"] = key_id(intruder.public_key())
        return resigned(members, json.dumps(manifest).encode(), intruder)

    bundle = inputs.pack()
    with pytest.raises(SynthgateError, match=r"manifest.sig: bad signature"):
        inputs.verify(tampered(bundle, lambda m: edit(m, claim_agent=True)))
    with pytest.raises(SynthgateError, match=r"manifest.sig: signed by an unknown key"):
        inputs.verify(tampered(bundle, lambda m: edit(m, claim_agent=False)))


def test_verify_refuses_an_unknown_key_and_no_key(inputs: Inputs) -> None:
    bundle = inputs.pack()
    other = load_public_key(generate_keypair(inputs.root / "keys" / "other")[1])
    with pytest.raises(SynthgateError, match=r"signed by an unknown key.*--trust"):
        verify_bundle(bundle, [other])
    with pytest.raises(SynthgateError, match=r"no trusted agent key given"):
        verify_bundle(bundle, [])
    # several trusted keys: the right one is picked by its id
    assert verify_bundle(bundle, [other, load_public_key(inputs.agent_pub)])


# ---------------------------------------------------------------------------- approvals


def test_approval_round_trip(inputs: Inputs) -> None:
    bundle = inputs.pack()
    before = read_members(bundle)
    with pytest.raises(SynthgateError, match=r"no approval by a required reviewer key"):
        inputs.verify(bundle, approvals=True)
    rel = add_approval(bundle, load_private_key(inputs.reviewer_key))
    after = read_members(bundle)
    assert str(rel).startswith("approvals/") and str(rel).endswith(".sig")
    added = [(i.name, d) for i, d in after if i.name not in {j.name for j, _ in before}]
    assert [name for name, _ in added] == [f"{TOP_FOLDER}/{rel}"]
    # every other member is unchanged, header and content
    kept = [(i.get_info(), d) for i, d in after if i.name != f"{TOP_FOLDER}/{rel}"]
    assert kept == [(i.get_info(), d) for i, d in before]
    verified = inputs.verify(bundle, approvals=True)
    assert [a.status for a in verified.approvals] == ["valid"]
    # approving again gives the same bytes
    approved = bundle.read_bytes()
    add_approval(bundle, load_private_key(inputs.reviewer_key))
    assert bundle.read_bytes() == approved
    # without the reviewer's key the approval is listed but unchecked
    plain = inputs.verify(bundle)
    assert [a.status for a in plain.approvals] == ["unchecked"]


def test_approval_breaks_when_any_byte_changes(inputs: Inputs) -> None:
    bundle = inputs.pack()
    add_approval(bundle, load_private_key(inputs.reviewer_key))
    data = bundle.read_bytes()
    content = zlib.decompress(data, wbits=31)
    bad = bundle.with_name("changed.tar.gz")
    for position in range(len(data)):
        for bit in (0x01, 0x80):
            changed = data[:position] + bytes([data[position] ^ bit]) + data[position + 1:]
            bad.write_bytes(changed)
            try:
                inputs.verify(bad, approvals=True)
            except SynthgateError:
                continue
            # only deflate's slack bits (which encode nothing) may change: same tar stream
            assert zlib.decompress(changed, wbits=31) == content


def test_approval_of_another_manifest_is_refused(inputs: Inputs) -> None:
    first = inputs.pack("first.tar.gz")
    add_approval(first, load_private_key(inputs.reviewer_key))
    approval = [(i, d) for i, d in read_members(first) if "approvals/" in i.name]
    inputs.config.write_text(CONFIG + "min-count: 10\n")
    second = inputs.pack("second.tar.gz")
    moved = tampered(second, lambda m: sorted([*approval, *m], key=lambda x: x[0].name))
    with pytest.raises(SynthgateError, match=r"changed after approval"):
        inputs.verify(moved, approvals=True)


def test_require_approval_by_a_key_that_did_not_approve(inputs: Inputs) -> None:
    bundle = inputs.pack()
    add_approval(bundle, load_private_key(inputs.reviewer_key))
    stranger = load_public_key(generate_keypair(inputs.root / "keys" / "stranger")[1])
    with pytest.raises(SynthgateError, match=r"no approval by a required reviewer key"):
        verify_bundle(bundle, [load_public_key(inputs.agent_pub)], [stranger])
    # any one of the required keys is enough
    verified = verify_bundle(bundle, [load_public_key(inputs.agent_pub)],
                             [stranger, load_public_key(inputs.reviewer_pub)])
    assert [a.status for a in verified.approvals] == ["valid"]


def test_approve_refuses_a_tampered_bundle(inputs: Inputs) -> None:
    bad = tampered(inputs.pack(), lambda m: replace(m, "orm.yaml", b"tables: {}\n"))
    before = bad.read_bytes()
    with pytest.raises(SynthgateError, match=r"does not match the manifest"):
        add_approval(bad, load_private_key(inputs.reviewer_key))
    assert bad.read_bytes() == before


# ---------------------------------------------------------------------------- builder inputs


def test_load_inputs_from_a_bundle(inputs: Inputs) -> None:
    bundle = inputs.pack()
    elsewhere = inputs.root / "nothing-here"
    with load_inputs(bundle, [inputs.agent_pub], [], elsewhere / "c.yaml", elsewhere / "o.yaml",
                     elsewhere / "s.yaml", elsewhere) as loaded:
        assert loaded.config.vocabulary_tables() == ["country", "language"]
        assert list(loaded.orm.tables) == ["country", "language", "film"]
        assert loaded.stats["films_per_rating"]["results"][0] == {"rating": "G", "n": 178}
        files = loaded.vocab_files
        assert sorted(files) == ["country", "language"]
        assert files["country"].read_bytes() == (inputs.vocab / "country.yaml").read_bytes()
        folder = files["country"].parent.parent
    assert not folder.exists()


def test_load_inputs_from_files(inputs: Inputs) -> None:
    with load_inputs(None, [], [], inputs.config, inputs.orm, inputs.stats,
                     inputs.vocab) as loaded:
        assert loaded.bundle is None
        assert loaded.vocab_files["language"] == inputs.vocab / "language.yaml.gz"
    with (pytest.raises(SynthgateError, match=r"--require-approval needs --bundle"),
          load_inputs(None, [], [inputs.reviewer_pub], inputs.config, inputs.orm, inputs.stats,
                      inputs.vocab)):
        pass


def test_load_inputs_refuses_an_unapproved_or_untrusted_bundle(inputs: Inputs) -> None:
    bundle = inputs.pack()
    args = (inputs.config, inputs.orm, inputs.stats, inputs.vocab)
    with (pytest.raises(SynthgateError, match=r"no approval"),
          load_inputs(bundle, [inputs.agent_pub], [inputs.reviewer_pub], *args)):
        pass
    with (pytest.raises(SynthgateError, match=r"unknown key"),
          load_inputs(bundle, [inputs.reviewer_pub], [], *args)):
        pass


# ---------------------------------------------------------------------------- commands


def _agent(argv: list[str]) -> int:
    from synthgate_agent.cli import app
    from synthgate_shared.cli import run_app
    return run_app(app, "synthgate-agent", argv)


def _builder(argv: list[str]) -> int:
    from synthgate_builder.cli import app
    from synthgate_shared.cli import run_app
    return run_app(app, "synthgate-builder", argv)


def test_commands_end_to_end(inputs: Inputs, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(inputs.root)
    assert _agent(["keygen", "--out", "agent"]) == 0
    assert (inputs.root / "agent.pem").stat().st_mode & 0o777 == 0o600
    assert _agent(["keygen", "--out", "agent"]) == 1
    assert "use --force" in capsys.readouterr().err
    assert _agent(["keygen", "--out", "reviewer"]) == 0
    assert _agent(["bundle", "--key", "agent.pem"]) == 0
    assert "wrote bundle.tar.gz" in capsys.readouterr().out
    assert _builder(["verify", "bundle.tar.gz", "--trust", "agent.pub"]) == 0
    out = capsys.readouterr().out
    for text in ("signature valid", "vocab/country.yaml", "mean_length", "epsilon 0.75",
                 "approvals: none", "vocabulary tables: country, language"):
        assert text in out
    assert _builder(["verify", "bundle.tar.gz", "--trust", "agent.pub",
                     "--require-approval", "reviewer.pub"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no approval by a required reviewer key" in err
    assert _agent(["approve", "bundle.tar.gz", "--key", "reviewer.pub"]) == 1
    assert "this is a public key" in capsys.readouterr().err
    assert _agent(["approve", "bundle.tar.gz", "--key", "reviewer.pem"]) == 0
    assert _builder(["verify", "bundle.tar.gz", "--trust", "agent.pub",
                     "--require-approval", "reviewer.pub"]) == 0
    assert ": valid" in capsys.readouterr().out
    assert _builder(["verify", "bundle.tar.gz", "--trust", "reviewer.pub"]) == 1
    assert "unknown key" in capsys.readouterr().err
    (inputs.root / "agent.pem").chmod(0o644)
    assert _agent(["bundle", "--key", "agent.pem", "--force"]) == 1
    assert "chmod 600" in capsys.readouterr().err
    assert _agent(["bundle", "--key", "missing.pem", "--force"]) == 1
    assert "private key file not found" in capsys.readouterr().err
