"""Bursts from one address or one subnet are flagged: counted, marked, measured and listed."""

import httpx
from prometheus_client import REGISTRY, generate_latest
from redis.asyncio import Redis

from tests.polls.conftest import ADDRESS_SALT, SettingsFactory, client_for, create_poll, running
from tests.support.waiting import eventually
from xabar.polls.voters import address_key
from xabar.runtime.clients import hash_address


def flagged_total(kind: str) -> float:
    return REGISTRY.get_sample_value("xabar_polls_anomalous_votes_total", {"kind": kind}) or 0.0


async def test_bursts_from_one_address_or_subnet_are_flagged_not_silently_accepted(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis
) -> None:
    settings = make_settings(
        trusted_proxies=("10.0.0.1",),
        burst_address_threshold=3,
        burst_subnet_threshold=5,
        address_limit=100,
    )
    before = {k: flagged_total(k) for k in ("address", "subnet")}
    async with running(settings) as app, client_for(app) as editor:
        pid = (await create_poll(editor, auth))["poll_id"]
        other = (await create_poll(editor, auth))["poll_id"]

        # one address, six new voters (cookies cleared each time)
        flags = []
        for _ in range(6):
            async with client_for(app, peer="198.51.100.20") as reader:
                r = await reader.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
                assert r.status_code == 201
                flags.append(r.json()["flagged"])
        assert flags[:3] == [[], [], []]
        assert flags[3:5] == [["address"], ["address"]]
        assert flags[5] == ["address", "subnet"]  # the sixth is also the subnet's sixth

        # eight different addresses of one /24 behind the trusted proxy, on another poll
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 40000))
        sub_flags = []
        for n in range(1, 9):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as reader:
                r = await reader.post(
                    f"/api/v1/polls/{other}/votes",
                    json={"options": ["o2"]},
                    headers={"X-Forwarded-For": f"192.0.2.{n}"},
                )
                assert r.status_code == 201
                sub_flags.append(r.json()["flagged"])
        assert sub_flags == [[]] * 5 + [["subnet"]] * 3

        # counted all the same, and marked as such in the durable log
        service = app.state.polls.service
        assert (await service.counter.counts(pid)).total == 6
        assert (await service.counter.counts(other)).total == 8

        async def logged() -> list[list[str]]:
            docs = await service.votes.collection.find({"poll_id": other}).to_list(None)
            return sorted((d["flags"] for d in docs), key=len)

        async def written() -> bool:
            return int(await redis.xlen("{polls}:votes")) == 0

        await eventually(written, what="vote log written")
        assert await logged() == [[]] * 5 + [["subnet"]] * 3

        assert flagged_total("address") - before["address"] == 3
        assert flagged_total("subnet") - before["subnet"] == 4
        metrics = generate_latest().decode()  # what the operators' metrics listener serves
        assert 'xabar_polls_anomalous_votes_total{kind="subnet"}' in metrics

        r = await editor.get("/api/v1/anomalies")
        assert r.status_code == 401
        r = await editor.get("/api/v1/anomalies", headers=auth)
        assert r.status_code == 200
        items = {(a["poll_id"], a["kind"], a["key"]): a for a in r.json()["items"]}
        key = address_key(ADDRESS_SALT)  # the polls' own, derived from the setting
        address_key_ = hash_address("198.51.100.20", key)
        subnet_a = hash_address("198.51.100.0/24", key)
        subnet_b = hash_address("192.0.2.0/24", key)
        assert set(items) == {
            (pid, "address", address_key_),
            (pid, "subnet", subnet_a),
            (other, "subnet", subnet_b),
        }
        assert items[(pid, "address", address_key_)]["flagged_votes"] == 3
        assert items[(other, "subnet", subnet_b)]["flagged_votes"] == 3
        assert "198.51.100" not in r.text and "192.0.2" not in r.text  # hashes only
        # and never the hashes another service keyed with the same setting would make
        assert hash_address("198.51.100.20", ADDRESS_SALT) not in r.text
