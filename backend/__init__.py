"""Benchmark results service: a drop-in replacement for the EOSC Performance API v1."""

from backend.app import create_app

__all__ = ["create_app"]
