"""What every part of a run shares: its inputs, its plan, its key state, its writer, its
random generator and the notes it gathers."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine
from synthgate_shared.config import Config

from synthgate_builder.populate.plan import RunPlan
from synthgate_builder.populate.state import KeyState
from synthgate_builder.populate.writers.base import Writer
from synthgate_builder.ssg_load import SsgModule


@dataclasses.dataclass
class Context:
    """One ``create_data`` run's shared parts (``keys`` is read from the destination when
    the run starts)."""

    engine: Engine
    config: Config
    ssg: SsgModule
    src_stats: dict[str, Any]
    plan: RunPlan
    writer: Writer
    rng: np.random.Generator
    notes: list[str]
    keys: KeyState = dataclasses.field(default_factory=KeyState)
    # tables a story gave database-filled keys: their sequences move past them after the pass
    explicit_keys: set[str] = dataclasses.field(default_factory=set)

    @property
    def tries(self) -> int:
        """How many times the values of a row breaking a unique key are made again."""
        return self.config.max_unique_constraint_tries
