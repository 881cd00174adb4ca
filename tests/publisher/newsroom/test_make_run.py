"""What ``make run`` prints once the platform is up: the newsroom's URL (the publisher's root,
http://127.0.0.1:8082/ by default) and the chief's login, which opens the newsroom as the
chief."""

import re

from xabar.devstack.__main__ import banner
from xabar.devstack.clients import CHIEF_EMAIL
from xabar.devstack.stack import DEFAULT_PORTS

from tests.publisher.newsroom.conftest import Newsroom
from xabar.runtime.auth import Role

SECRET = "пароль-главного-из-secrets"
LINE = re.compile(
    r"newsroom\s+(\S+)\s+\(login (\S+), password (\S+), also in \.state/secrets\.json\)"
)


async def test_make_run_prints_the_newsroom_url_and_the_chiefs_login(newsroom: Newsroom) -> None:
    urls = {name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_PORTS.items()}
    printed = banner(urls, {"chief_password": SECRET})
    found = [m for line in printed if (m := LINE.search(line))]
    assert len(found) == 1, printed
    url, email, password = found[0].groups()
    assert url == "http://127.0.0.1:8082/" and email == CHIEF_EMAIL and password == SECRET

    # the devstack creates the chief with that password (clients.ensure_chief); it logs in
    await newsroom.h.parts.editors.create(
        email=CHIEF_EMAIL, name="Главный редактор", role=Role.CHIEF, password=SECRET
    )
    resp = await newsroom.login(email, password)
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    today = await newsroom.client.get("/")
    assert today.status_code == 200 and "Главный редактор" in today.text
    assert (await newsroom.client.get("/people")).status_code == 200  # the chief's own page
