"""Fields: what a caller's values become before any output sees them.

Pure functions and small classes, no OpenTelemetry and no I/O:

* :mod:`.coercion` - any value becomes a bounded attribute value
  (the documented coercion rule, limits, truncation);
* :mod:`.redaction` - secrets become a fixed marker (keys, text patterns,
  remembered values);
* :mod:`.errors` - what ``log_error`` records about the error it gets;
* :mod:`.durations` - duration arithmetic and Go-style duration strings.

Everything above this layer (channels, core, export) builds on it; it
imports nothing of opslog but the vocabulary and the self-diagnostics.
"""
