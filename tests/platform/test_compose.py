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

from xabar.runtime.deployment import (
    ClusterDeployment,
    SentinelDeployment,
    parse_redis_url,
)

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
def test_app_services_wait_for_healthy_dependencies_and_build_from_the_one_dockerfile(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert service["depends_on"]["mongo"]["condition"] == "service_healthy"
    build = service["build"]
    assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert build["args"] == {"SERVICE": name, "PORT": str(DEFAULT_PORTS[name])}
    text = (ROOT / "Dockerfile").read_text()
    assert '--package "xabar-${SERVICE}"' in text and "uv sync --frozen" in text
    assert 'exec python -m "xabar.$XABAR_SERVICE"' in (ROOT / "deploy" / "start.sh").read_text()
    assert not (ROOT / "services" / name / "Dockerfile").exists()  # one recipe, not four
    # scaled replicas must not fight over a host port: only the edge publishes ports
    assert "ports" not in service
    assert "container_name" not in service


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_service_environment_matches_its_settings(compose: dict[str, Any], name: str) -> None:
    env: dict[str, str] = compose["services"][name]["environment"]
    check_environment(name, env)
    prefix = f"XABAR_{name.upper()}_"
    assert env[f"{prefix}REDIS_URL"].startswith("redis://redis:")
    assert env[f"{prefix}MONGODB_URL"].startswith("mongodb://mongo:")


def check_environment(name: str, env: dict[str, str]) -> None:
    """``env`` names settings of service ``name`` only, every required one, secrets from the
    environment, and a Redis URL of a deployment."""
    module = importlib.import_module(f"xabar.{name}.config")
    settings_cls = getattr(module, APP_SERVICES[name])
    prefix = f"XABAR_{name.upper()}_"
    fields = settings_cls.model_fields
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
    parse_redis_url(env[f"{prefix}REDIS_URL"])  # names a deployment (ConfigError otherwise)
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


# --- the `ha` and `cluster` profiles: overlays of the main file ------------------------------

OVERLAYS = {"ha": "docker-compose.ha.yml", "cluster": "docker-compose.cluster.yml"}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return data


def merged(base: Any, over: Any) -> Any:
    """``over`` laid on ``base`` as ``docker compose -f base -f over`` does: mappings merged key
    by key, anything else (a command, a list of volumes) replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merged(base[key], value) if key in base else value
        return out
    return over


def schema_errors(doc: dict[str, Any]) -> list[str]:
    import json

    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def profile(request: pytest.FixtureRequest, compose: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name: str = request.param
    overlay = load(OVERLAYS[name])
    assert not schema_errors(overlay), schema_errors(overlay)  # the file alone is valid
    return name, merged(compose, overlay)


def active(doc: dict[str, Any], profile: str) -> dict[str, Any]:
    """The services ``docker compose --profile <profile> up`` starts."""
    return {
        n: s
        for n, s in doc["services"].items()
        if not s.get("profiles") or profile in s["profiles"]
    }


def test_each_profile_validates_against_the_compose_schema(
    profile: tuple[str, dict[str, Any]],
) -> None:
    _, doc = profile
    assert not schema_errors(doc), "\n".join(schema_errors(doc))


def test_each_profile_starts_healthy_services_and_waits_for_its_one_shots(
    profile: tuple[str, dict[str, Any]],
) -> None:
    name, doc = profile
    services = active(doc, name)
    one_shots = {n for n, s in services.items() if s.get("restart") == "no"}
    assert one_shots, "a profile initiates its deployment with a one-shot service"
    for service_name, service in services.items():
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in services, f"{service_name} waits for {dependency}, not started"
            wanted = (
                "service_completed_successfully" if dependency in one_shots else "service_healthy"
            )
            assert how["condition"] == wanted, (service_name, dependency)
        if service_name not in one_shots:
            assert service.get("healthcheck", {}).get("test"), f"{service_name}: no healthcheck"
            assert service.get("restart") == "unless-stopped", service_name
    for app in APP_SERVICES:  # every service waits for the deployment to be initiated
        assert one_shots <= set(services[app]["depends_on"]), app
    for added in set(services) - set(load("docker-compose.yml")["services"]):
        assert services[added]["profiles"] == [name], added  # only under its profile
        for volume in services[added].get("volumes", []):
            assert volume.split(":")[0] in doc["volumes"], (added, volume)


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_each_profiles_services_name_its_deployment_and_wait_for_replicas(
    profile: tuple[str, dict[str, Any]], name: str
) -> None:
    kind, doc = profile
    env: dict[str, str] = doc["services"][name]["environment"]
    check_environment(name, env)
    prefix = f"XABAR_{name.upper()}_"
    deployment = parse_redis_url(env[f"{prefix}REDIS_URL"])
    services = active(doc, kind)
    if kind == "ha":
        assert isinstance(deployment, SentinelDeployment)
        assert {host for host, _ in deployment.sentinels} == {
            n for n in services if n.startswith("sentinel-")
        }
        monitor = services["sentinel-1"]["command"][0]
        assert f"sentinel monitor {deployment.master_name} redis 6379 2" in monitor
        assert "replicaSet=rs0" in env[f"{prefix}MONGODB_URL"]
        hosts = env[f"{prefix}MONGODB_URL"].split("//")[1].split("/")[0].split(",")
        assert {h.split(":")[0] for h in hosts} == {"mongo", "mongo-2", "mongo-3"}
    else:
        assert isinstance(deployment, ClusterDeployment)
        nodes = {n for n, s in services.items() if "--cluster-enabled" in s.get("command", [])}
        assert {host for host, _ in deployment.seeds} == nodes and len(nodes) == 6
    # the services that acknowledge tips, comments and votes wait for one replica
    replicas = env.get(f"{prefix}REDIS_MIN_REPLICAS")
    assert replicas == ("1" if name in ("ingest", "polls") else None), name


def test_the_ha_profile_runs_two_replicas_three_sentinels_and_a_three_member_replica_set(
    compose: dict[str, Any],
) -> None:
    services = active(merged(compose, load(OVERLAYS["ha"])), "ha")
    replicas = [s for n, s in services.items() if n.startswith("redis-replica-")]
    assert len(replicas) == 2
    assert all(s["command"][s["command"].index("--replicaof") + 1] == "redis" for s in replicas)
    assert sum(n.startswith("sentinel-") for n in services) == 3
    members = [
        s
        for s in services.values()
        if s.get("image") == "mongo:7" and "mongod" in s.get("command", [])
    ]
    assert len(members) == 3
    assert all(s["command"][s["command"].index("--replSet") + 1] == "rs0" for s in members)
    init = services["mongo-init"]["command"][-1]
    assert init.count("host:") == 3 and "rs.initiate" in init


def test_the_cluster_profile_makes_a_cluster_of_three_masters_with_a_replica_each(
    compose: dict[str, Any],
) -> None:
    services = active(merged(compose, load(OVERLAYS["cluster"])), "cluster")
    init = services["redis-cluster-init"]["command"][0]
    assert "--cluster create" in init and "--cluster-replicas 1" in init
    nodes = {n for n, s in services.items() if "--cluster-enabled" in s.get("command", [])}
    assert all(n in init for n in nodes) and len(nodes) == 6
    assert all("--appendonly" in services[n]["command"] for n in nodes)
