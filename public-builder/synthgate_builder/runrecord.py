"""The run record of ``create-data --run-record FILE``: a small JSON file of what was made
(bundle id, destination with the password masked, scale, seed, passes, rows, time), read by
``report --run-record FILE`` for the report's header. It holds no secret and no data."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from synthgate_shared.errors import SynthgateError
from synthgate_shared.files import write_text_atomic

from synthgate_builder.inputs import BuilderInputs

FORMAT = "synthgate-run"
MAX_BYTES = 1 << 20


def bundle_facts(inputs: BuilderInputs) -> dict[str, Any]:
    """The bundle id, agent key id and source fingerprint of the inputs (None from files)."""
    source = inputs.orm.source
    text = (f"{source.dialect} {source.server_version or ''}, schema "
            f"{source.schema or '(default)'}, {len(inputs.orm.tables)} tables")
    if inputs.bundle is None:
        return {"bundle_id": None, "agent_key": None, "source": text}
    from synthgate_shared.review import bundle_id

    return {"bundle_id": bundle_id(inputs.bundle), "agent_key": inputs.bundle.signer_key_id,
            "source": text}


def write_run_record(path: Path, inputs: BuilderInputs, destination: str,
                     scale: float | None, seed: int | None, passes: int, rows: int) -> None:
    """Write the run record of one create-data (atomically)."""
    record = {"format": FORMAT, **bundle_facts(inputs), "destination": destination,
              "scale": scale, "seed": seed, "passes": passes, "rows": rows,
              "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    write_text_atomic(path, json.dumps(record, indent=1) + "\n")


def read_run_record(path: Path) -> dict[str, Any]:
    """A run record written by ``write_run_record``; anything else is one clear error."""
    where = str(path)
    try:
        raw = Path(path).read_bytes()[: MAX_BYTES + 1]
    except OSError as exc:
        raise SynthgateError(f"cannot read the run record ({exc.strerror})", where=where,
                             fix="pass the file create-data --run-record wrote") from None
    try:
        data = json.loads(raw) if len(raw) <= MAX_BYTES else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SynthgateError("not a synthgate run record", where=where,
                             fix="pass the file create-data --run-record wrote")
    return data


def report_facts(inputs: BuilderInputs, destination: str, scale: float,
                 record: dict[str, Any] | None) -> dict[str, Any]:
    """The report header's facts: from the inputs and the report's own options, completed
    by the run record (seed, time made); disagreements are notes."""
    facts: dict[str, Any] = {**bundle_facts(inputs), "destination": destination,
                             "scale": scale, "seed": None, "generated_at": None, "notes": []}
    if record is None:
        return facts
    facts["seed"] = record.get("seed")
    facts["generated_at"] = record.get("generated_at")
    for key, label in (("bundle_id", "bundle"), ("destination", "destination"),
                       ("scale", "scale")):
        if record.get(key) != facts[key]:
            facts["notes"].append(f"the run record's {label} ({record.get(key)}) is not this "
                                  f"report's ({facts[key]})")
    return facts
