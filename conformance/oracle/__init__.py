"""The PSA oracle's Go sources, shipped as ``generator.parity.oracle_src`` package data.

A regular package (not a bare folder) so ``importlib.resources`` finds the
sources the same way in a wheel, an editable install and a checkout.
"""
