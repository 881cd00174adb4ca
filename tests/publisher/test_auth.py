"""Every editorial route refuses a request without a valid token of a sufficient role.

The routes are read from the app itself (recursively), so a route added later without a token
check, or missing from the tables below, fails this test."""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from starlette.routing import BaseRoute, Mount, Route

from tests.conftest import TokenKeys
from tests.publisher.conftest import Harness, SettingsFactory, env_of, running
from xabar.runtime.auth import AUDIENCE, ISSUER, Principal, Role, TokenIssuer, TokenVerifier

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/asyncapi.json"),
    ("GET", "/media/{media_id}"),
    ("GET", "/media/{media_id}/{size}"),
    ("POST", "/api/v1/auth/login"),
}
C, E, X = Role.CONTRIBUTOR, Role.EDITOR, Role.CHIEF
MINIMUM: dict[tuple[str, str], Role] = {
    ("GET", "/api/v1/auth/me"): C,
    ("POST", "/api/v1/auth/logout"): C,
    ("GET", "/api/v1/editors"): X,
    ("POST", "/api/v1/editors"): X,
    ("GET", "/api/v1/articles"): C,
    ("POST", "/api/v1/articles"): C,
    ("GET", "/api/v1/articles/{article_id}"): C,
    ("PATCH", "/api/v1/articles/{article_id}"): C,
    ("PUT", "/api/v1/articles/{article_id}"): C,
    ("POST", "/api/v1/articles/{article_id}/submit"): C,
    ("POST", "/api/v1/articles/{article_id}/return"): E,
    ("POST", "/api/v1/articles/{article_id}/schedule"): E,
    ("POST", "/api/v1/articles/{article_id}/publish"): E,
    ("POST", "/api/v1/articles/{article_id}/unpublish"): E,
    ("POST", "/api/v1/articles/{article_id}/corrections"): E,
    ("POST", "/api/v1/articles/{article_id}/feature"): E,
    ("DELETE", "/api/v1/articles/{article_id}/feature"): E,
    ("GET", "/api/v1/featured"): C,
    ("GET", "/api/v1/articles/{article_id}/revisions"): C,
    ("GET", "/api/v1/articles/{article_id}/revisions/{version}"): C,
    ("POST", "/api/v1/articles/{article_id}/revisions/{version}/restore"): C,
    ("GET", "/api/v1/articles/{article_id}/diff"): C,
    ("GET", "/api/v1/inbox"): E,
    ("GET", "/api/v1/inbox/{submission_id}"): E,
    ("POST", "/api/v1/inbox/{submission_id}/review"): E,
    ("POST", "/api/v1/inbox/{submission_id}/accept"): E,
    ("POST", "/api/v1/inbox/{submission_id}/reject"): E,
    ("POST", "/api/v1/media"): E,
    ("GET", "/api/v1/audit"): E,
    ("GET", "/api/v1/comments"): E,
    ("GET", "/api/v1/comments/{comment_id}"): E,
    ("POST", "/api/v1/comments/{comment_id}/approve"): E,
    ("POST", "/api/v1/comments/{comment_id}/reject"): E,
    ("POST", "/api/v1/comments/{comment_id}/spam"): E,
    ("POST", "/api/v1/comments/{comment_id}/edit"): E,
    ("POST", "/api/v1/comments/{comment_id}/block"): E,
    ("POST", "/api/v1/comments/bulk-approve"): E,
    ("GET", "/api/v1/comment-blocks"): E,
    ("DELETE", "/api/v1/comment-blocks/{client_hash}"): E,
    ("POST", "/api/v1/articles/{article_id}/comments/close"): E,
    ("POST", "/api/v1/articles/{article_id}/comments/open"): E,
}


def enumerate_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """The API's routes (the newsroom's pages have their own guard: tests/publisher/newsroom)."""
    for route in routes:
        if getattr(route, "name", "").startswith("newsroom."):
            continue
        if isinstance(route, Mount):
            yield from enumerate_routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield method, prefix + route.path
        else:  # a WebSocket route or anything else: it must be thought about here
            yield type(route).__name__, prefix + getattr(route, "path", "?")


def concrete(path: str) -> str:
    return re.sub(r"{version}", "1", re.sub(r"{(?!version)[^}]+}", "0" * 32, path))


def hs256(claims: dict[str, object], key: bytes) -> str:
    """A JWT signed HS256 by hand (PyJWT refuses to, with a key that looks like a public key)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def bad_tokens(keys: TokenKeys) -> dict[str, dict[str, str]]:
    chief = Principal("chief-1", "Главный", Role.CHIEF)
    now = datetime.now(UTC)
    stamp = int(now.timestamp())
    claims: dict[str, object] = {
        "sub": "chief-1",
        "role": "chief",
        "iat": stamp,
        "exp": stamp + 300,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    signer = TokenIssuer(keys.private, None).private
    none_alg = jwt.encode(claims, key=None, algorithm="none")
    wrong_audience = jwt.encode({**claims, "aud": "somebody-else"}, signer, algorithm="EdDSA")
    # the public key is public: a token "signed" HS256 with it must not pass as ours
    confused = hs256(claims, keys.public.encode())
    return {
        "missing": {},
        "empty bearer": {"Authorization": "Bearer "},
        "malformed": {"Authorization": "Bearer not.a.jwt"},
        "other scheme": {"Authorization": "Basic Y2hpZWY6cGFzc3dvcmQ="},
        "expired": {"Authorization": "Bearer " + keys.issue(chief, now=now - timedelta(hours=3))},
        "forged signature": {"Authorization": "Bearer " + TokenKeys.new().issue(chief)},
        "alg none": {"Authorization": f"Bearer {none_alg}"},
        "wrong audience": {"Authorization": f"Bearer {wrong_audience}"},
        "HS256 with the public key": {"Authorization": f"Bearer {confused}"},
    }


async def test_every_route_is_either_public_or_in_the_role_table(harness: Harness) -> None:
    found = set(enumerate_routes(harness.app.routes))
    assert found - PUBLIC - set(MINIMUM) == set(), "routes with no declared access rule"
    assert (set(MINIMUM) | PUBLIC) - found == set(), "rules for routes that do not exist"
    assert found & PUBLIC == PUBLIC


async def test_every_non_public_route_refuses_bad_tokens_401_and_low_roles_403(
    harness: Harness, token_keys: TokenKeys
) -> None:
    h = harness
    routes = set(enumerate_routes(h.app.routes))
    checked = 0
    for method, path in sorted(routes - PUBLIC):
        minimum = MINIMUM[(method, path)]
        url = concrete(path)
        for name, headers in bad_tokens(token_keys).items():
            resp = await h.client.request(method, url, headers=headers, json={"title": "x"})
            assert resp.status_code == 401, (method, path, name, resp.text)
            assert resp.json()["error"]["code"] == "unauthorized"
            assert resp.headers["www-authenticate"].startswith("Bearer")
        for role in Role:
            resp = await h.client.request(method, url, headers=h.auth(role), json={"title": "x"})
            if role.at_least(minimum):
                assert resp.status_code not in (401, 403), (method, path, role, resp.text)
            else:
                assert resp.status_code == 403, (method, path, role, resp.text)
                assert resp.json()["error"]["code"] == "forbidden"
        checked += 1
    assert checked == len(MINIMUM)


async def test_public_routes_answer_without_a_token(harness: Harness) -> None:
    h = harness
    assert (await h.client.get("/healthz")).status_code == 200
    assert (await h.client.get("/readyz")).status_code == 200
    assert (await h.client.get("/openapi.json")).status_code == 200
    assert (await h.client.get("/metrics")).status_code == 404  # only on the operators' port
    missing = await h.client.get("/media/" + "0" * 32)
    assert missing.status_code == 404
    resp = await h.client.post("/api/v1/auth/login", json={"email": "a@b.c", "password": "x"})
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_credentials"


async def test_login_gives_a_token_other_services_verify_with_the_public_key(
    harness: Harness, token_keys: TokenKeys
) -> None:
    h = harness
    await h.parts.editors.create(
        email="Editor@Xabar.local", name="Редактор", role=Role.EDITOR, password="долгий пароль 1"
    )
    resp = await h.client.post(
        "/api/v1/auth/login", json={"email": "editor@xabar.local", "password": "долгий пароль 1"}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["editor"]["role"] == "editor"
    assert body["expires_in"] == h.settings.token_ttl_s
    principal = TokenVerifier(token_keys.public, None).verify(body["access_token"])  # as polls
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "EdDSA"
    assert (principal.name, principal.role) == ("Редактор", Role.EDITOR)
    me = await h.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["role"] == "editor"
    stored = await h.parts.collections.editors.find_one({"email": "editor@xabar.local"})
    assert stored is not None and stored["password_hash"].startswith("$argon2id$")
    wrong = await h.client.post(
        "/api/v1/auth/login", json={"email": "editor@xabar.local", "password": "не тот пароль"}
    )
    assert wrong.status_code == 401


async def test_login_attempts_are_limited_per_email_and_address(
    make_settings: SettingsFactory,
) -> None:
    async with running(make_settings(login_rate_limit=3)) as h:
        await h.parts.editors.create(
            email="chief@xabar.local", name="Шеф", role=Role.CHIEF, password="правильный пароль"
        )
        for _ in range(3):
            resp = await h.client.post(
                "/api/v1/auth/login", json={"email": "chief@xabar.local", "password": "угадываю"}
            )
            assert resp.status_code == 401
        blocked = await h.client.post(
            "/api/v1/auth/login",
            json={"email": "chief@xabar.local", "password": "правильный пароль"},
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        other = await h.client.post(
            "/api/v1/auth/login", json={"email": "other@xabar.local", "password": "угадываю"}
        )
        assert other.status_code == 401  # another e-mail from this address is still judged


async def test_chief_creates_and_lists_editors_and_an_email_is_unique(harness: Harness) -> None:
    h = harness
    body = {
        "email": "new@xabar.local",
        "name": "Новый",
        "role": "contributor",
        "password": "достаточно длинный",
    }
    resp = await h.client.post("/api/v1/editors", json=body, headers=h.auth(Role.CHIEF))
    assert resp.status_code == 201, resp.text
    again = await h.client.post("/api/v1/editors", json=body, headers=h.auth(Role.CHIEF))
    assert again.status_code == 409
    short = await h.client.post(
        "/api/v1/editors",
        json={**body, "email": "x@y.z", "password": "short"},
        headers=h.auth(Role.CHIEF),
    )
    assert short.status_code == 422
    listed = await h.client.get("/api/v1/editors", headers=h.auth(Role.CHIEF))
    assert [e["email"] for e in listed.json()["items"]] == ["new@xabar.local"]
    assert "password_hash" not in listed.text


@pytest.mark.slow
async def test_create_editor_cli_reads_the_password_from_stdin_or_the_environment(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    env = {**os.environ, **env_of(settings)}

    def cmd(email: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "xabar.publisher",
            "create-editor",
            "--email",
            email,
            "--name",
            "Главный редактор",
            "--role",
            "chief",
        ]

    done = subprocess.run(
        [*cmd("chief@xabar.local"), "--password-stdin"],
        input="секретный пароль\n".encode(),
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    again = subprocess.run(
        cmd("second@xabar.local"),
        env={**env, "XABAR_PUBLISHER_NEW_EDITOR_PASSWORD": "другой пароль!"},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr.decode()
    missing = subprocess.run(
        cmd("third@xabar.local"), env=env, capture_output=True, check=False, timeout=60
    )
    assert missing.returncode == 2
    exists = subprocess.run(
        cmd("chief@xabar.local"),
        env={**env, "XABAR_PUBLISHER_NEW_EDITOR_PASSWORD": "x" * 12},
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert exists.returncode == 0
    assert "exists already" in exists.stderr.decode()
    async with running(settings) as h:
        for email, password in (
            ("chief@xabar.local", "секретный пароль"),
            ("second@xabar.local", "другой пароль!"),
        ):
            resp = await h.client.post(
                "/api/v1/auth/login", json={"email": email, "password": password}
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["editor"]["role"] == "chief"
