"""The ``logging.LogRecord`` of each event: what ``makeRecord`` makes, made cheaper.

With a handler attached to the ``opslog`` logger, every event builds a
record. Most of ``Logger.makeRecord``'s work is the same for every opslog
record: the level's name, the file name and module split out of the fixed
pathname, a dozen attributes set one by one. :class:`RecordMaker` makes,
once per level, a record through the stdlib itself and keeps those fields
as a template; each event's record is then the template copied in one C
call, plus what changes per record, set by the stdlib's own rules
(``LogRecord.__init__``):

* ``msg``;
* ``created``, ``msecs`` and ``relativeCreated``: the event's timestamp (on
  every path, so the record, the span event and the OpenTelemetry log
  record carry the same time);
* ``thread`` and ``threadName`` (when ``logging.logThreads``),
  ``processName`` (when ``logging.logMultiprocessing``; the
  ``multiprocessing`` name if it is loaded), ``process`` (when
  ``logging.logProcesses``) and, on Python 3.12+, ``taskName`` (when
  ``logging.logAsyncioTasks``; the current asyncio task's name). The flags
  are read per record, as ``LogRecord`` reads them. The process id is read
  once, and again in a forked child (see ``_pid``).

The template is used only where it gives exactly what ``makeRecord``
would, and ``makeRecord`` is called otherwise:

* an application's record factory (``logging.setLogRecordFactory``) is
  always called;
* so is a ``makeRecord`` that is not the stdlib's own: one the logger's
  class or the logger itself overrides, or one wrapped on
  ``logging.Logger`` itself, as APM agents do to inject their trace ids
  (ddtrace, SignalFx: ``wrapt.wrap_function_wrapper(logging.Logger,
  "makeRecord", ...)``), and likewise a wrapped ``LogRecord.__init__``.
  These are checked per record (a patch applied after opslog was imported
  counts), against the stdlib's functions as found at import (a patch
  applied before makes opslog call ``makeRecord`` for good);
* the stdlib's record must hold only fields listed here (a Python version
  that adds one is left to ``makeRecord``), and a templated record must
  equal one the stdlib made at the same moment, field for field (checked
  once per level).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any, Optional

from .._genuine import own_function

__all__ = ["RecordMaker"]

#: Fields that are the same in every record of one level.
_FIXED = frozenset(
    (
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
    )
)
_TIMES = frozenset(("created", "msecs", "relativeCreated"))
_ORIGIN = frozenset(("thread", "threadName", "processName", "process"))
#: Python 3.12+.
_TASK = "taskName"

_LogRecord = logging.LogRecord
_new_record = _LogRecord.__new__
_get_ident = threading.get_ident
_current_thread = threading.current_thread
_modules = sys.modules
_getpid = getattr(os, "getpid", None)


def _read_pid() -> Optional[int]:
    return _getpid() if _getpid is not None else None


#: This process's id, what ``os.getpid()`` gives: read once, and again in a
#: forked child (``os.register_at_fork``: ``os.fork``, ``os.forkpty``,
#: multiprocessing's fork). ``LogRecord.__init__`` makes a system call for it
#: on every record, which measured ~0.9 µs per record inside the benchmark
#: workload here. A child forked by C code that bypasses those hooks and then
#: goes on running Python would show its parent's id.
_pid = _read_pid()


def _after_fork_in_child() -> None:
    global _pid
    _pid = _read_pid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_STDLIB_MAKE_RECORD = own_function(logging.Logger, "makeRecord", logging.__file__)
_STDLIB_RECORD_INIT = own_function(_LogRecord, "__init__", logging.__file__)


def _logging_start() -> float:
    """When ``logging`` was loaded (seconds since the epoch): what a record's
    ``relativeCreated`` counts from, read off a record the stdlib makes."""
    probe = _LogRecord("", logging.INFO, "", 0, "", (), None)
    return float(probe.created - probe.relativeCreated / 1000)


_START = _logging_start()

#: A level's fixed fields, and whether its records have ``taskName``.
_Template = tuple[dict[str, Any], bool]


class RecordMaker:
    """Makes the records of one logger, all with one pathname and line 0."""

    def __init__(self, logger: logging.Logger, pathname: str) -> None:
        self._logger = logger
        self._logger_type = type(logger)
        self._logger_own = vars(logger)
        self._pathname = pathname
        #: level -> its template; None where makeRecord must be called.
        self._templates: dict[int, Optional[_Template]] = {}

    def make(self, level: int, message: str, timestamp_ns: int) -> logging.LogRecord:
        """The record of one event, timed at ``timestamp_ns`` (ns since the epoch)."""
        template = None
        if (
            logging.getLogRecordFactory() is _LogRecord
            and _LogRecord.__init__ is _STDLIB_RECORD_INIT
            and self._logger_type.makeRecord is _STDLIB_MAKE_RECORD
            and "makeRecord" not in self._logger_own
        ):
            templates = self._templates
            template = templates[level] if level in templates else self._template(level)
        if template is None:
            record = self._logger.makeRecord(
                self._logger.name, level, self._pathname, 0, message, (), None, func=None
            )
            _set_times(record.__dict__, timestamp_ns)
            return record
        fixed, with_task = template
        record = _new_record(_LogRecord)
        data = record.__dict__
        data.update(fixed)
        data["msg"] = message
        _set_times(data, timestamp_ns)
        # The thread, process and task fields by LogRecord.__init__'s rules,
        # written out here: this runs for every event.
        if logging.logThreads:
            data["thread"] = _get_ident()
            data["threadName"] = _current_thread().name
        else:
            data["thread"] = data["threadName"] = None
        if logging.logMultiprocessing:
            process_name = "MainProcess"
            multiprocessing = _modules.get("multiprocessing")
            if multiprocessing is not None:
                try:
                    process_name = multiprocessing.current_process().name
                except Exception:
                    pass
            data["processName"] = process_name
        else:
            data["processName"] = None
        data["process"] = _pid if logging.logProcesses else None
        if with_task:
            task_name = None
            if getattr(logging, "logAsyncioTasks", True):
                asyncio = _modules.get("asyncio")
                if asyncio is not None:
                    try:
                        task_name = asyncio.current_task().get_name()
                    except Exception:
                        pass
            data[_TASK] = task_name
        return record

    def _template(self, level: int) -> Optional[_Template]:
        """The fixed fields of ``level``'s records, or None (see the module's docstring)."""
        logger = self._logger
        self._templates[level] = None  # until it has passed
        try:
            real = _LogRecord(logger.name, level, self._pathname, 0, "", (), None, func=None)
            made = vars(real)
            with_task = _TASK in made
            if set(made) != _FIXED | _TIMES | _ORIGIN | ({_TASK} if with_task else set()):
                return None
            template: Optional[_Template] = ({key: made[key] for key in _FIXED}, with_task)
            # A record made from it now must be the stdlib's, but for its times.
            self._templates[level] = template
            ours = vars(self.make(level, "", time.time_ns()))
            if any(ours[key] != value for key, value in made.items() if key not in _TIMES):
                template = None
        except Exception:
            template = None
        self._templates[level] = template
        return template


def _set_times(data: dict[str, Any], timestamp_ns: int) -> None:
    """``created``, ``msecs`` and ``relativeCreated`` of a record made at
    ``timestamp_ns``, as Python 3.13 computes them from ``time.time_ns()``."""
    created = timestamp_ns / 1e9
    msecs = (timestamp_ns % 1_000_000_000) // 1_000_000 + 0.0
    if msecs == 999.0 and int(created) != timestamp_ns // 1_000_000_000:
        msecs = 0.0  # the float seconds rounded up into the next second
    data["created"] = created
    data["msecs"] = msecs
    data["relativeCreated"] = (created - _START) * 1000
