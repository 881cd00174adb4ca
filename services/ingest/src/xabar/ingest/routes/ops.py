"""The routes every service has, served by ``xabar.runtime`` (health, readiness) and by the
composition root (this document): declared here for the OpenAPI document only. Metrics are on
the operators' own listener (``runtime.app.serve``), not a route."""

from pydantic import BaseModel

from xabar.runtime.openapi import OpenAPI


class HealthBody(BaseModel):
    status: str


class ReadinessBody(BaseModel):
    status: str


def declare(api: OpenAPI) -> None:
    tags = ["ops"]
    api.operation("GET", "/healthz", "The process is alive", responses={200: HealthBody}, tags=tags)
    api.operation(
        "GET",
        "/readyz",
        "Redis and MongoDB answer",
        responses={200: ReadinessBody, 503: ReadinessBody},
        tags=tags,
    )
    api.operation(
        "GET", "/openapi.json", "This document", responses={200: "application/json"}, tags=tags
    )
