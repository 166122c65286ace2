"""Agent commands: schema (filled in by its step)."""

from __future__ import annotations
