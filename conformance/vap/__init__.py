"""The vap engine's Go sources, shipped as ``generator.tools.vap_engine_src`` package data.

A regular package (not a bare folder) so ``importlib.resources`` finds the
sources the same way in a wheel, an editable install and a checkout.
"""
