"""Everything that touches the OpenTelemetry API and SDK.

* :mod:`.providers` - tracers, loggers, span starts, span events, flushing;
* :mod:`.correlation` - the correlation id is the trace id; the active
  opslog scope in an OpenTelemetry ``Context``;
* :mod:`.tracecontext` - W3C Trace Context Level 2 parsing;
* :mod:`.propagation` - ``traceparent``/``tracestate``/``baggage`` in and out.
"""
