"""The policy itself, pure and without I/O: versions, checks, registry, evaluation, PSA's namespace rules."""
