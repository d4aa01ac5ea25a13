"""The core model: operations, steps and what they log.

* :mod:`.scope` - what operations and steps share (a span, its events, how
  it ends);
* :mod:`.operation` - the Go API's ``OperationLogger``, ``OperationContext``
  and ``StepContext`` (operations and steps start each other);
* :mod:`.retry` - attempts as steps;
* :mod:`.decorators` - ``@traced_operation`` / ``@traced_step``;
* :mod:`.lifecycle` - open operations are ended at process exit.
"""
