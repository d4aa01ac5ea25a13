"""Bridges for code that already logs: stdlib ``logging`` and ``structlog``.

The public home of :mod:`opslog.integrations.bridges`; see there.
"""

from __future__ import annotations

from .integrations.bridges import LoggingBridge, add_opslog_fields, install_logging_bridge

__all__ = ["LoggingBridge", "add_opslog_fields", "install_logging_bridge"]
