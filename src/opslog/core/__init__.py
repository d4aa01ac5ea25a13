"""The core model: operations, steps and what they log.

* :mod:`.scope` - what operations and steps share (a span, its events, how
  it ends);
* :mod:`.operation` / :mod:`.step` - the Go API's ``OperationContext`` and
  ``StepContext``;
* :mod:`.retry` - attempts as steps;
* :mod:`.decorators` - ``@traced_operation`` / ``@traced_step``;
* :mod:`.lifecycle` - open operations are ended at process exit.
"""
