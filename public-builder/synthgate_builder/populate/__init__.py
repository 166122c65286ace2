"""create-data / remove-data: fill the destination with synthetic rows that keep every key.

The parts, in the order a run uses them:

- ``plan``: the pure plan built once (tables, foreign keys with their ``FkMode``, unique keys);
- ``state`` and ``keys``: what the run reads from the destination once and keeps in memory
  (key pools, hashed unique keys, free parents of one-to-one keys, counters);
- ``filler`` (a batch's values), ``draws`` (foreign-key values) and ``unique`` (rows breaking
  a unique key made again);
- ``writers``: how a batch goes in, one writer per database family;
- ``cycles``: a cycle's ``later`` foreign keys set at the end of the pass;
- ``stories``: story generators, run side by side after the tables;
- ``passes`` (the pass loop) and ``api`` (``create_data``, ``remove_data``).

Each pass is one transaction, so an interrupted run keeps whole passes only.
"""

from synthgate_builder.populate.api import DataSummary, create_data, remove_data

__all__ = ["DataSummary", "create_data", "remove_data"]
