"""Plumbing shared by the Xabar services: event bus, outbox relay, observability, local infra."""
