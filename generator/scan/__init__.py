"""Streaming scans: objects read, judged by an engine, merged in input order, and reported."""

from __future__ import annotations

from generator.scan.stream import Outcome, Policies, might_hold, scan, scan_parallel

__all__ = ["Outcome", "Policies", "might_hold", "scan", "scan_parallel"]
