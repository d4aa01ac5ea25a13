"""Export: :func:`opslog.configure`, the OTLP pipeline and its batch processors.

* :mod:`.setup` - the public ``configure``/``shutdown``/``export_stats``;
* :mod:`.config` - export options resolved against the ``OTEL_*`` variables;
* :mod:`.pipeline` - providers, exporters and handlers, swapped on reconfiguration;
* :mod:`.processor` - a bounded batch processor whose every wait has a deadline.
"""
