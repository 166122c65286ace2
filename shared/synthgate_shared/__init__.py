"""Code shared by the synthgate private agent and public builder.

Holds the ``orm.yaml`` model, the ``config.yaml`` schema, the bundle format
with its signing and verification, database connection helpers and errors.
"""

__version__ = "0.1.0"
