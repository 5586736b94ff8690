"""Parity with upstream PSA: the corpora, the Go oracle, and the comparison of engines with it."""
