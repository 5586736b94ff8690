"""The one exception root: the CLI turns these, and only these, into a one-line error.

Anything else that escapes is a bug in pssgen and keeps its traceback.
"""

from __future__ import annotations


class PssgenError(Exception):
    """A failure pssgen can explain in one line: bad input, a missing tool, an engine that died."""
