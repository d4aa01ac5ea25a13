"""The ``opslog`` command line.

``opslog demo`` runs the enhanced test failover example
(:mod:`opslog.demo`) and prints its events to the terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from ._channels import LOGGER_NAME
from ._console import console_handler

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from .demo import FailoverError, run_failover

    handler = console_handler(sys.stdout)
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        correlation_id = run_failover(fail_at=args.fail_at)
    except FailoverError as exc:
        print(f"\nfailover failed: {exc}", file=sys.stderr)
        return 1
    finally:
        logger.removeHandler(handler)
    print(f"\ncorrelation id (trace id): {correlation_id}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``opslog`` command."""
    parser = argparse.ArgumentParser(prog="opslog", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the enhanced test failover example")
    demo.add_argument(
        "--fail-at",
        choices=("linstor-snapshot", "virtio-injection", "vm-creation", "volume-attachment"),
        help="make this step fail (the operation ends failed)",
    )
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
