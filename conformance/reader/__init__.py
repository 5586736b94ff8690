"""The kubectl reader oracle's Go sources (``conformance.reader``), found through ``importlib.resources``.

A regular package so ``generator.parity.reader_oracle`` can hand it to the PSA
oracle's source and build helpers unchanged. It is a test tool of a checkout,
not package data: ``pssgen`` itself never runs it.
"""
