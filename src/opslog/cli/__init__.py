"""The ``opslog`` command line.

``opslog tree`` draws operations from JSON lines (:mod:`opslog.cli.tree`);
``opslog report`` computes the seed's monitoring queries
(:mod:`opslog.cli.report`). ``opslog demo`` runs the enhanced test failover example
(:mod:`opslog.cli.demo`), printing its events live. With no endpoint it uses the
embedded default and ends by saying where the JSON lines went; with
``--endpoint`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT``) it exports over OTLP and
prints the trace id to look up in Jaeger.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import sys
import time
import urllib.parse
from typing import Any, Optional, Sequence

from .._version import __version__
from ..export.pipeline import PIPELINE
from .logread import MAX_LINE

__all__ = ["main"]

JAEGER_UI = "http://localhost:16686"


def _demo(args: argparse.Namespace) -> int:
    from ..export import setup
    from .demo import FailoverError, run_failover

    json_path = args.json  # no file unless asked for
    default_name = "failover-engine" if args.services else "opslog-demo"
    try:
        setup.configure(
            service_name=os.environ.get("OTEL_SERVICE_NAME") or default_name,
            endpoint=args.endpoint,
            protocol=args.protocol,
            console=sys.stdout,
            json_path=json_path,
        )
    except ValueError as exc:
        print(f"opslog demo: {exc}", file=sys.stderr)
        return 2
    config = PIPELINE.config
    if args.wait and config is not None and config.exports:
        target = config.traces or config.logs
        if target is not None and not _wait_for(target.endpoint, args.wait):
            print(
                f"opslog demo: {target.endpoint} did not accept connections "
                f"within {args.wait:g}s; running anyway",
                file=sys.stderr,
            )
    status = 0
    daemon = _start_daemon(args, json_path) if args.services else None
    try:
        correlation_id = run_failover(
            fail_at=args.fail_at, volume_daemon=daemon.url if daemon else None
        )
    except FailoverError as exc:
        print(f"\nfailover failed: {exc}", file=sys.stderr)
        correlation_id = exc.correlation_id
        status = 1
    finally:
        if daemon is not None:
            daemon.stop()
    delivered = setup.shutdown(timeout=args.shutdown_timeout)
    print(f"\ncorrelation id (trace id): {correlation_id}")
    if config is not None and config.exports:
        spans = dict(setup.export_stats().get("spans", {}))
        if daemon is not None:  # the other service's spans belong to the same trace
            for key, value in daemon.stats.get("spans", {}).items():
                spans[key] = spans.get(key, 0) + value
        target = config.traces or config.logs
        assert target is not None
        services = " (both services)" if daemon is not None else ""
        print(
            f"exported to {target.endpoint}{services}: {spans.get('exported', 0)} spans, "
            f"{spans.get('dropped', 0) + spans.get('failed', 0)} not delivered"
            f"{'' if delivered else ' (shutdown deadline reached)'}"
        )
        if _is_local(target.endpoint):  # docker compose maps Jaeger's UI there
            print(f"look it up in Jaeger: {JAEGER_UI}/trace/{correlation_id}")
        else:
            print(f"look it up in your tracing backend by trace id {correlation_id}")
    if json_path:
        print(f"JSON log: {json_path}")
    return status


def _is_local(url: str) -> bool:
    """Whether ``url`` is on this machine (where ``docker compose`` runs Jaeger)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


def _start_daemon(args: argparse.Namespace, json_path: Optional[str]) -> Any:
    """The volume daemon process, exporting where this process exports."""
    from .services import VolumeDaemonProcess

    if args.endpoint:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = args.endpoint
    if args.protocol:
        os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = args.protocol
    if json_path:
        os.environ["OPSLOG_JSON_PATH"] = json_path  # both services append to one file
    return VolumeDaemonProcess()


def _wait_for(url: str, seconds: float) -> bool:
    """Wait until ``url``'s host accepts TCP connections, at most ``seconds``."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((parts.hostname or "", port), timeout=1.0):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)


def _window(args: argparse.Namespace) -> tuple[Any, Any]:
    from .logread import parse_time

    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    return since, until


def _tree(args: argparse.Namespace) -> int:
    from ..otel.correlation import format_correlation_id, parse_correlation_id
    from .logread import LineStats, open_input, read_events
    from .tree import TreeBuilder, TreeFilter, draw, render

    try:
        since, until = _window(args)
        cid = None
        if args.correlation_id:
            trace_id = parse_correlation_id(args.correlation_id)
            if trace_id is None:
                raise ValueError(f"{args.correlation_id!r} is not a correlation id")
            cid = format_correlation_id(trace_id)
        stream = open_input(args.file)
    except (ValueError, OSError) as exc:
        print(f"opslog tree: {exc}", file=sys.stderr)
        return 2
    tree_filter = TreeFilter(cid, args.job_id, args.operation, args.status, since, until)
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    live = args.follow and sys.stdout.isatty()
    builder = TreeBuilder(max_events=args.max_events)
    stats = LineStats()
    finished: list[Any] = []

    def redraw() -> None:  # the live view of a followed file on a terminal
        if not live:
            return
        lines = [line for root in finished[-3:] for line in [*render(root, colour), ""]]
        lines += list(draw(builder.open_roots(), tree_filter, colour))
        sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
        sys.stdout.flush()

    try:
        for event in read_events(stream, stats, follow=args.follow, idle=redraw):
            for root in builder.add(event):
                if not tree_filter.accepts(root):
                    continue
                finished.append(root)
                del finished[:-3]
                if not live:
                    print("\n".join(render(root, colour)) + "\n", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    for line in draw(builder.open_roots(), tree_filter, colour):
        print(line)
    evicted = f", {builder.evicted} drawn early to bound memory" if builder.evicted else ""
    print(
        f"{stats.events} events, {len(builder.open_roots())} operation(s) still running"
        f"{evicted}, {stats.skipped} line(s) skipped (not opslog JSON, or over "
        f"{MAX_LINE // 1024} KiB)",
        file=sys.stderr,
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from .logread import LineStats, open_input, read_events
    from .report import Report

    try:
        since, until = _window(args)
        stream = open_input(args.file)
    except (ValueError, OSError) as exc:
        print(f"opslog report: {exc}", file=sys.stderr)
        return 2
    stats = LineStats()
    try:
        report = Report(since, until).add_all(read_events(stream, stats))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if args.json:
        import json

        document = {**report.as_dict(), "lines_skipped": stats.skipped}
        print(json.dumps(_finite(document), indent=2, allow_nan=False))
    else:
        print("\n".join(report.table()))
        print(f"\n{stats.events} events read, {stats.skipped} line(s) skipped (not opslog JSON)")
    return 0


def _finite(value: Any) -> Any:
    """``value`` with every float that JSON cannot hold (NaN, infinities) as ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``opslog`` command."""
    parser = argparse.ArgumentParser(prog="opslog", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--version", action="version", version=f"opslog {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the enhanced test failover example")
    demo.add_argument(
        "--fail-at",
        choices=("linstor-snapshot", "virtio-injection", "vm-creation", "volume-attachment"),
        help="make this step fail (the operation ends failed)",
    )
    demo.add_argument(
        "--endpoint",
        help="OTLP endpoint, e.g. http://localhost:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT, "
        "else no export: terminal and JSON lines only)",
    )
    demo.add_argument(
        "--protocol",
        choices=("http/protobuf", "grpc"),
        help="OTLP protocol (default http/protobuf)",
    )
    demo.add_argument("--json", metavar="PATH", help="also write events as JSON lines to PATH")
    demo.add_argument(
        "--services",
        action="store_true",
        help="run the volume daemon as a second process and call it over HTTP",
    )
    demo.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for the collector to accept connections first",
    )
    demo.add_argument(
        "--shutdown-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="longest wait for the export to finish at the end (default 5)",
    )
    demo.set_defaults(run=_demo)

    def window_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("file", nargs="?", help="opslog JSON lines (default: stdin)")
        command.add_argument("--since", help="from this time: ISO 8601, or 30m, 1h, 24h, 7d ago")
        command.add_argument("--until", help="up to this time (same forms)")

    tree = commands.add_parser("tree", help="draw operations as trees from JSON lines")
    window_options(tree)
    tree.add_argument("-f", "--follow", action="store_true", help="keep reading a growing file")
    tree.add_argument("--correlation-id", help="only this trace (32 hex digits or a UUID)")
    tree.add_argument("--job-id", help="only operations of this job")
    tree.add_argument("--operation", help="only root operations with this name")
    tree.add_argument("--status", help="only operations that ended so (or: running)")
    tree.add_argument(
        "--max-events", type=int, default=100, help="events kept per step (default 100)"
    )
    tree.set_defaults(run=_tree)
    report = commands.add_parser("report", help="success rate, durations and errors")
    window_options(report)
    report.add_argument("--json", action="store_true", help="JSON instead of tables")
    report.set_defaults(run=_report)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
