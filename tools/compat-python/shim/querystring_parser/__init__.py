"""Minimal stand-in for the PyPI package `querystring_parser` (used by mlflow.server.handlers)."""
