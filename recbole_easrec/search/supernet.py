"""Moved to :mod:`recbole_easrec.model.elastic.supernet` (issue 29); ``kept_width`` stays importable
here for ``benchmarks/suite.py`` until it imports it from there."""

from recbole_easrec.model.elastic.supernet import kept_width

__all__ = ["kept_width"]
