"""Output channels: where one event goes.

:mod:`.emit` is the one event path every opslog call ends in: it builds the
event's attributes once and hands them to each channel (span event,
OpenTelemetry log record, stdlib ``logging`` record). :mod:`.console` and
:mod:`.jsonlines` format the stdlib records for a terminal and for files.
"""
