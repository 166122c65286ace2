"""synthgate private agent: reads a source database (read only) into a signed, reviewable bundle.

Runs inside the secure network. It never writes to the source and never runs user Python.
"""

__version__ = "0.1.0"
