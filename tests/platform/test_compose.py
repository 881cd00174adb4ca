"""docker-compose.yml is the production path. No Docker engine runs here, so we check what can be
checked: the Compose schema, health checks everywhere, and environments that match each service's
Settings exactly (a typo in a variable name would otherwise be silently ignored)."""

import importlib
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).parent / "compose-spec.json"  # compose-spec schema, see its README note
APP_SERVICES = {
    "feed": "FeedSettings",
    "ingest": "IngestSettings",
    "publisher": "PublisherSettings",
    "polls": "PollsSettings",
}
DEFAULT_PORTS = {"feed": 8080, "ingest": 8081, "publisher": 8082, "polls": 8083}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_file_validates_against_the_compose_schema(compose: dict[str, Any]) -> None:
    import json

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(
        schema
    )  # the draft the compose-spec schema is written in
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_every_service_has_a_healthcheck_and_a_restart_policy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(APP_SERVICES) | {"redis", "mongo"} <= set(services)
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, name


def test_infrastructure_uses_the_real_images_with_durable_volumes(compose: dict[str, Any]) -> None:
    redis, mongo = compose["services"]["redis"], compose["services"]["mongo"]
    assert redis["image"].startswith("redis:7")
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert mongo["image"].startswith("mongo:7")
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert any(v.endswith(":/data/db") for v in mongo["volumes"])


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_wait_for_healthy_dependencies_and_build_from_their_dockerfile(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert service["depends_on"]["mongo"]["condition"] == "service_healthy"
    dockerfile = ROOT / service["build"]["dockerfile"]
    assert dockerfile.exists()
    text = dockerfile.read_text()
    assert f'"xabar.{name}"' in text and "uv sync --frozen" in text
    # scaled replicas must not fight over a host port: only the edge publishes ports
    assert "ports" not in service
    assert "container_name" not in service


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_service_environment_matches_its_settings(compose: dict[str, Any], name: str) -> None:
    module = importlib.import_module(f"xabar.{name}.config")
    settings_cls = getattr(module, APP_SERVICES[name])
    prefix = f"XABAR_{name.upper()}_"
    fields = settings_cls.model_fields
    env: dict[str, str] = compose["services"][name]["environment"]
    for var in env:
        assert var.startswith(prefix), f"{var} lacks the {prefix} prefix"
        assert var[len(prefix) :].lower() in fields, f"{var} is not a setting of {name}"
    required = {f for f, info in fields.items() if info.is_required()}
    missing = {f for f in required if f"{prefix}{f.upper()}" not in env}
    assert not missing, f"{name} needs {missing}"
    # editors' tokens: the publisher alone signs; the services that take tokens verify
    token_vars = {v for v in env if v.startswith(f"{prefix}TOKEN_") and v.endswith("_KEY")}
    if name == "publisher":
        assert token_vars == {f"{prefix}TOKEN_PRIVATE_KEY"}
    elif settings_cls.VERIFIES_TOKENS:
        assert token_vars == {f"{prefix}TOKEN_PUBLIC_KEY"}
    else:
        # the feed verifies tokens for the newsroom's preview only (it runs without one too)
        assert token_vars == {f"{prefix}TOKEN_PUBLIC_KEY"}, f"{name} verifies previews' tokens"
    assert env[f"{prefix}HOST"] == "0.0.0.0"
    assert env[f"{prefix}PORT"] == str(DEFAULT_PORTS[name])
    assert env[f"{prefix}REDIS_URL"].startswith("redis://redis:")
    assert env[f"{prefix}MONGODB_URL"].startswith("mongodb://mongo:")
    for var, value in env.items():
        if re.search(r"(SECRET|SALT|PASSWORD|_KEY)$", var):
            assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (
                f"{var} must come from the env"
            )


def test_the_edge_routes_every_public_port_to_its_service(compose: dict[str, Any]) -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for name, port in DEFAULT_PORTS.items():
        assert re.search(rf"listen {port};.*?http://{name}:{port};", conf, re.S), name
        assert f"{port}:{port}" in compose["services"]["edge"]["ports"]


def test_the_schema_check_catches_a_misspelt_key(compose: dict[str, Any]) -> None:
    import copy
    import json

    broken = copy.deepcopy(compose)
    broken["services"]["feed"]["helthcheck"] = broken["services"]["feed"].pop("healthcheck")
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert any("helthcheck" in e.message for e in validator.iter_errors(broken))
