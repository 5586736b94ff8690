"""pssgen: the Kubernetes Pod Security Standards as code."""

__version__ = "0.1.0"
