"""Integrations with the code around opslog.

* :mod:`.http` - WSGI/ASGI middleware, client spans, ``urlopen``;
* :mod:`.threads` - carrying the current operation into thread pools;
* :mod:`.bridges` - existing ``logging`` and ``structlog`` code, correlated.
"""
