"""collector-config.yaml and docker-compose.yml: parsed and checked (Docker does not run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def collector() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "collector-config.yaml").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_pipeline_component_is_defined(collector: dict[str, Any]) -> None:
    service = collector["service"]
    for extension in service["extensions"]:
        assert extension in collector["extensions"]
    assert "health_check" in service["extensions"]
    connectors = collector.get("connectors", {})
    for name, pipeline in service["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            if kind == "processors" and name.startswith("metrics/"):
                continue  # the span metrics go straight to Prometheus
            assert pipeline[kind], (name, kind)
            for component in pipeline[kind]:
                # A connector is an exporter of one pipeline and a receiver of another.
                assert component in collector[kind] or component in connectors, (name, component)


def test_receivers_listen_on_all_interfaces(collector: dict[str, Any]) -> None:
    protocols = collector["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    text = (ROOT / "collector-config.yaml").read_text()
    assert not re.search(r"endpoint:\s*(localhost|127\.0\.0\.1)", text)


def test_memory_limiter_first_then_batch(collector: dict[str, Any]) -> None:
    for pipeline in collector["service"]["pipelines"].values():
        if pipeline["receivers"] == ["spanmetrics"]:
            continue  # derived from spans already limited and batched
        processors = pipeline["processors"]
        assert processors[0] == "memory_limiter"
        assert processors[-1] == "batch"


def test_traces_go_to_jaeger_over_otlp_and_logs_to_debug(
    collector: dict[str, Any], compose: dict[str, Any]
) -> None:
    pipelines = collector["service"]["pipelines"]
    trace_exporters = pipelines["traces"]["exporters"]
    otlp = [e for e in trace_exporters if e.split("/")[0] in ("otlp", "otlp_grpc", "otlp_http")]
    assert otlp, trace_exporters
    host, port = collector["exporters"][otlp[0]]["endpoint"].split(":")
    assert host in compose["services"]  # the Jaeger service by its compose name
    assert compose["services"][host]["image"].startswith("jaegertracing/jaeger:")
    assert port == "4317"
    assert "debug" in pipelines["logs"]["exporters"]


def test_images_are_pinned_and_jaeger_is_v2(compose: dict[str, Any]) -> None:
    images = {name: s["image"] for name, s in compose["services"].items() if "image" in s}
    assert set(images) == {"jaeger", "otel-collector", "prometheus"}
    for image in images.values():
        tag = image.partition(":")[2]
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), image  # a pinned version, never latest
    assert images["otel-collector"].startswith("otel/opentelemetry-collector-contrib:")
    assert images["jaeger"].split(":")[1].startswith("2.")


def test_ports_are_published(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "16686:16686" in services["jaeger"]["ports"]
    published = [p.split()[0] for p in services["otel-collector"]["ports"]]
    assert "4317:4317" in published and "4318:4318" in published
    jaeger_flags = " ".join(services["jaeger"]["command"])
    assert "0.0.0.0:4317" in jaeger_flags  # reachable from the collector container


def test_collector_reads_this_config(compose: dict[str, Any]) -> None:
    collector = compose["services"]["otel-collector"]
    mounts = [v.split(":") for v in collector["volumes"]]
    source, target = mounts[0][0], mounts[0][1]
    assert (ROOT / source).resolve() == ROOT / "collector-config.yaml"
    assert f"--config={target}" in collector["command"]


def test_demo_service_exports_to_the_collector(compose: dict[str, Any]) -> None:
    demo = compose["services"]["demo"]
    endpoint = demo["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    match = re.fullmatch(r"http://([\w-]+):(\d+)", endpoint)
    assert match
    host, port = match.groups()
    assert host == "otel-collector"
    assert port == (
        "4318" if demo["environment"]["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf" else "4317"
    )
    assert "otel-collector" in demo["depends_on"]
    assert demo["command"][:2] == ["opslog", "demo"]
    dockerfile = (ROOT / demo["build"] / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "COPY src" in dockerfile


def test_span_metrics_feed_prometheus_and_jaegers_monitor_tab(
    collector: dict[str, Any], compose: dict[str, Any]
) -> None:
    spanmetrics = collector["connectors"]["spanmetrics"]
    dimensions = {d["name"] for d in spanmetrics["dimensions"]}
    assert {"operation", "opslog.status"} <= dimensions  # per operation, per end status
    pipelines = collector["service"]["pipelines"]
    assert "spanmetrics" in pipelines["traces"]["exporters"]
    assert pipelines["metrics/spanmetrics"]["receivers"] == ["spanmetrics"]
    assert pipelines["metrics/spanmetrics"]["exporters"] == ["prometheus"]
    metrics_port = collector["exporters"]["prometheus"]["endpoint"].rpartition(":")[2]

    scrape = yaml.safe_load((ROOT / "prometheus.yml").read_text())
    targets = [
        t for job in scrape["scrape_configs"] for c in job["static_configs"] for t in c["targets"]
    ]
    assert f"otel-collector:{metrics_port}" in targets

    services = compose["services"]
    prometheus = services["prometheus"]
    assert "9090:9090" in prometheus["ports"]
    source, target = prometheus["volumes"][0].split(":")[:2]
    assert (ROOT / source).resolve() == ROOT / "prometheus.yml"
    assert f"--config.file={target}" in prometheus["command"]
    flags = services["jaeger"]["command"]
    backend = next(f for f in flags if "prometheus.endpoint=" in f)
    assert backend.endswith("=http://prometheus:9090")
    name = backend.split("metric_backends.")[1].split(".")[0]
    assert f"--set=extensions.jaeger_query.storage.metrics={name}" in flags
    assert "prometheus" in services["jaeger"]["depends_on"]
