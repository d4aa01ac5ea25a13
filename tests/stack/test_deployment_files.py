"""docker-compose.yml and stack/stack.sh describe one deployment: same versions, same config
files, same published ports; the containers' network in the defaults, loopback in stack.sh.

These read the files only; tests/stack/test_end_to_end.py runs the programs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STACK_SH = (ROOT / "stack" / "stack.sh").read_text()
ENV_REFERENCE = re.compile(r"\$\{env:([A-Z0-9_]+):-([^}]*)\}")
CONFIGS = {"otel-collector": "collector-config.yaml", "jaeger": "jaeger-config.yaml"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def collector() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "collector-config.yaml").read_text())
    return loaded


def built_version(program: str) -> str:
    """The version stack.sh builds ``program`` at (part of its cache path)."""
    path = subprocess.run(
        ["bash", str(ROOT / "stack" / "stack.sh"), "bin", program],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Path(path).parent.name.split("-")[1]


@pytest.mark.parametrize(
    ("service", "program"),
    [("otel-collector", "collector"), ("jaeger", "jaeger"), ("prometheus", "prometheus")],
)
def test_compose_pins_the_versions_stack_sh_builds(
    compose: dict[str, Any], service: str, program: str
) -> None:
    tag = compose["services"][service]["image"].partition(":")[2]
    assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), tag  # pinned, never "latest"
    assert tag.lstrip("v") == built_version(program)


def test_the_collector_manifest_is_one_release() -> None:
    manifest = yaml.safe_load((ROOT / "stack" / "otelcol-builder.yaml").read_text())
    release = manifest["dist"]["version"]
    modules = [
        entry["gomod"]
        for kind in ("extensions", "receivers", "processors", "exporters", "connectors")
        for entry in manifest.get(kind, [])
    ]
    assert modules
    for module in modules:
        assert module.split()[1] == f"v{release}", module


def test_jaeger_is_v2_and_the_images_are_the_three_programs(compose: dict[str, Any]) -> None:
    images = {
        name: s["image"].partition(":")[0]
        for name, s in compose["services"].items()
        if "image" in s and name != "collector-data"
    }
    assert set(images) == {"otel-collector", "jaeger", "prometheus"}
    assert images["otel-collector"] == "otel/opentelemetry-collector-contrib"
    assert images["jaeger"] == "jaegertracing/jaeger"
    assert images["prometheus"] == "prom/prometheus"
    assert compose["services"]["jaeger"]["image"].partition(":")[2].startswith("2.")


@pytest.mark.parametrize("service", sorted(CONFIGS))
def test_compose_and_stack_sh_run_the_same_config_file(
    compose: dict[str, Any], service: str
) -> None:
    name = CONFIGS[service]
    spec = compose["services"][service]
    source, target = spec["volumes"][0].split(":")[:2]
    assert (ROOT / source).resolve() == ROOT / name
    assert f"--config={target}" in spec["command"]
    assert f'--config="$REPO/{name}"' in STACK_SH


def test_prometheus_runs_the_same_file_with_the_otlp_receiver(compose: dict[str, Any]) -> None:
    spec = compose["services"]["prometheus"]
    source, target = spec["volumes"][0].split(":")[:2]
    assert (ROOT / source).resolve() == ROOT / "prometheus.yml"
    assert f"--config.file={target}" in spec["command"]
    assert "--web.enable-otlp-receiver" in spec["command"]
    assert '--config.file="$REPO/prometheus.yml"' in STACK_SH
    assert "--web.enable-otlp-receiver" in STACK_SH


@pytest.mark.parametrize("name", sorted(CONFIGS.values()))
def test_every_config_variable_defaults_to_the_compose_network_and_stack_sh_sets_loopback(
    compose: dict[str, Any], name: str
) -> None:
    lines = (ROOT / name).read_text().splitlines()
    references = ENV_REFERENCE.findall(
        "\n".join(x for x in lines if not x.lstrip().startswith("#"))
    )
    assert references
    services = set(compose["services"])
    for variable, default in references:
        assignment = re.search(rf"\b{variable}=(\S+)", STACK_SH)
        assert assignment, f"stack.sh does not set {variable}"
        local = assignment.group(1).strip('"')
        host = re.sub(r"^\w+://", "", default).split(":")[0].split("/")[0]
        if host == "0.0.0.0":  # a listening address: every interface in a container
            assert local.partition(":")[0] == "127.0.0.1", (variable, local)
        elif host in services:  # another container, by its compose name
            assert "127.0.0.1" in local, (variable, local)


def test_the_collector_writes_its_file_into_a_volume_its_user_owns(
    compose: dict[str, Any], collector: dict[str, Any]
) -> None:
    path = ENV_REFERENCE.fullmatch(collector["exporters"]["file/opslog-logs"]["path"])
    assert path
    directory = str(Path(path.group(2)).parent)
    services = compose["services"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["otel-collector"]["volumes"]}
    volume = mounts[directory]
    assert volume in compose["volumes"]  # a named volume, not the image's read-only root
    init = services["otel-collector"]["depends_on"]
    owner = next(name for name in init if f"{volume}:{directory}" in services[name]["volumes"])
    assert init[owner]["condition"] == "service_completed_successfully"
    assert services[owner]["command"][:2] == ["chown", "10001:10001"]


def test_published_ports_are_the_ports_stack_sh_binds(compose: dict[str, Any]) -> None:
    published = {
        int(port.split(":")[0])
        for spec in compose["services"].values()
        for port in spec.get("ports", [])
    }
    assert published == {4317, 4318, 13133, 16686, 9090}
    bound = {int(p) for p in re.findall(r"\b(\d{4,5})\b", STACK_SH.split("ports_of()")[1][:400])}
    assert published <= bound


def test_every_pipeline_component_is_defined(collector: dict[str, Any]) -> None:
    service = collector["service"]
    for extension in service["extensions"]:
        assert extension in collector["extensions"]
    connectors = collector.get("connectors", {})
    for name, pipeline in service["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in collector[kind] or component in connectors, (name, component)


def test_memory_limiter_first_then_batch(collector: dict[str, Any]) -> None:
    for pipeline in collector["service"]["pipelines"].values():
        if pipeline["receivers"] == ["span_metrics"]:
            continue  # derived from spans already limited and batched
        processors = pipeline["processors"]
        assert processors[0] == "memory_limiter"
        assert processors[-1] == "batch"


def test_demo_service_exports_to_the_collector(compose: dict[str, Any]) -> None:
    demo = compose["services"]["demo"]
    endpoint = demo["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint == "http://otel-collector:4318"
    assert demo["environment"]["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert "otel-collector" in demo["depends_on"]
    assert demo["command"][:2] == ["opslog", "demo"]
    dockerfile = (ROOT / demo["build"] / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "COPY src" in dockerfile
