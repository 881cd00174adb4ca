"""Property-based API tests: a service's app served by a real uvicorn on a local port, its own
/openapi.json loaded by schemathesis, and requests generated from that document.

The app runs in a thread of its own with its own event loop (its lifespan starts the bus, the
relay, the Mongo client there), so schemathesis's blocking requests never stall it. The number of
examples is bounded and the generation is deterministic, so a run is the same on every machine.
"""

import asyncio
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx
import hypothesis
import hypothesis.strategies as st
import requests
import schemathesis
import uvicorn
from hypothesis.strategies import SearchStrategy
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette

from xabar.runtime.auth import Principal, Role, TokenIssuer
from xabar.runtime.localinfra import free_port

Operation = APIOperation[Any, Any, Any, Any]
Case = schemathesis.Case[Any]

MAX_EXAMPLES = 15  # of one operation and one kind of data (valid, invalid, on existing items)
UNAUTHORIZED_EXAMPLES = 5  # of a secured operation without a token: every one is a 401
SEED = 20240611
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


# No 5xx; every status, content type and body as the document says; invalid data refused with a
# 4xx (negative_data_rejection), but for two choices of ours: our services ignore query
# parameters they do not know (schemathesis itself lets those pass), and read an empty
# ``?page=`` as absent, as HTTP clients and HTML forms expect.
def invalid_data_is_refused(ctx: Any, response: Any, case: Case) -> bool | None:
    data = case.meta.phase.data if case.meta is not None else None
    name = getattr(data, "parameter", None)
    where = getattr(data, "parameter_location", None)
    in_query = name and where is not None and where.name.lower() == "query"
    if in_query and (case.query or {}).get(name) in ("", [""]):
        return None  # an empty query value: absent
    result: bool | None = negative_data_rejection(ctx, response, case)
    return result


CHECKS: list[CheckFunction] = [
    not_a_server_error,
    invalid_data_is_refused,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


def config(*, token: bool) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "request-timeout": 30,
            # with a token of ours, schemathesis must not make up (or drop) the Authorization
            # header; without one, it sends made-up bearer tokens and none at all
            "generation": {"with-security-parameters": not token},
            # invalid data is refused with a 4xx; 413 too (too many or too large fields)
            "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
        }
    )


class Crashes(logging.Handler):
    """Every error the app logged while it was served: a handler that crashed behind an answer
    (uvicorn's "Exception in ASGI application", the runtime's "unhandled error", a service's
    "storing a submission failed") fails the run even when the client saw a 4xx. The bus's
    consumer loop is left out: its fetch errors (a Redis read timing out on a loaded box) are
    no answer to the requests sent, and the bus's own tests hold it."""

    BUS_LOGGERS = ("xabar.bus", "faststream")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(self.BUS_LOGGERS):
            self.records.append(record)

    def told(self) -> str:
        formatter = logging.Formatter("%(name)s: %(message)s")
        return "\n\n".join(formatter.format(r) for r in self.records[:5])


@contextmanager
def served(app: Starlette, port: int | None = None) -> Iterator[str]:
    """``app`` (lifespan included) on ``port`` (a free local one by default); yields its URL.
    Fails on leaving if the app logged an error (a traceback) meanwhile."""
    crashes = Crashes()
    logging.getLogger().addHandler(crashes)
    try:
        with _serving(app, port) as url:
            yield url
    finally:
        logging.getLogger().removeHandler(crashes)
    assert not crashes.records, f"the app logged errors while it was served:\n{crashes.told()}"


@contextmanager
def _serving(app: Starlette, port: int | None) -> Iterator[str]:
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws="none",
        )
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"fuzz-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the app did not start: {failure!r}")
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not start within 60 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)
        if failure:
            raise failure[0]


def run(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    known: dict[str, list[str]] | None = None,
    bodies: dict[str, list[Any]] | None = None,
    only: Callable[[Operation], bool] | None = None,
) -> dict[str, Counter[int]]:
    """Every operation of the /openapi.json that the service at ``url`` serves (or those
    ``only`` selects), ``MAX_EXAMPLES`` with valid data and as many with invalid data, requests
    sent with ``headers``. Operations whose path parameters are all in ``known`` (name: values
    of things that exist) get as many again with those values (and with the headers ``known``
    names, such as If-Match), so that they reach the handlers past the 404; and with the
    ``bodies`` given for their label (a vote for an option that exists, say). A secured
    operation without a token gets ``UNAUTHORIZED_EXAMPLES`` only. Fails listing every failure
    as schemathesis reports it (with a curl line); returns the statuses each operation answered."""
    headers = headers or {}
    assert httpx.get(f"{url}/openapi.json").status_code == 200
    schema = schemathesis.openapi.from_url(
        f"{url}/openapi.json", config=config(token="Authorization" in headers)
    )
    known = known or {}
    failures: list[str] = []
    seen: dict[str, Counter[int]] = {}
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                failures.append(f"an operation the document describes wrongly: {result.err()}")
                continue
            operation = result.ok()
            if only is not None and not only(operation):
                continue
            statuses = seen.setdefault(operation.label, Counter())
            examples = MAX_EXAMPLES
            reaches = "Authorization" in headers or not secured(operation)
            if not reaches:
                examples = UNAUTHORIZED_EXAMPLES
            given = (known, (bodies or {}).get(operation.label, [])) if reaches else ({}, [])
            for name, strategy in _strategies(operation, *given):
                try:
                    _fuzz(strategy, examples, headers, session, statuses)
                except hypothesis.errors.Unsatisfiable:
                    if "invalid" not in name:
                        raise
                    # the operation takes nothing that can be made invalid (a bare string in
                    # the path, say): nothing to send
                except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup
                    failures.append(f"{operation.label} ({name}):\n{exc}")
    if os.environ.get("XABAR_FUZZ_STATS"):
        for label, counts in seen.items():
            print(f"{label}: {dict(sorted(counts.items()))}")
    assert not failures, "\n\n".join(failures)
    return seen


def secured(operation: Operation) -> bool:
    """The operation needs a bearer token."""
    return bool(operation.definition.raw.get("security"))


def _fuzz(
    strategy: SearchStrategy[Case],
    examples: int,
    headers: dict[str, str],
    session: requests.Session,
    statuses: Counter[int],
) -> None:
    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def check(case: Case) -> None:
        response = case.call_and_validate(headers=headers, session=session, checks=CHECKS)
        statuses[response.status_code] += 1

    check()


def _strategies(
    operation: Operation, known: dict[str, list[str]], bodies: list[Any]
) -> Iterator[tuple[str, SearchStrategy[Case]]]:
    has_input = bool(list(operation.iter_parameters()) or len(operation.body))
    yield "valid data", operation.as_strategy(GenerationMode.POSITIVE)
    if has_input:
        yield "invalid data", operation.as_strategy(GenerationMode.NEGATIVE)
    path = [p.name for p in operation.path_parameters]
    if not all(n in known for n in path):
        return
    headers = [p.name for p in operation.headers if p.name in known]  # If-Match: "1", say
    values = st.tuples(
        st.fixed_dictionaries({n: st.sampled_from(known[n]) for n in path}),
        st.fixed_dictionaries({n: st.sampled_from(known[n]) for n in headers}),
    )
    if path:
        for mode, name in (
            (GenerationMode.POSITIVE, "valid data, existing items"),
            (GenerationMode.NEGATIVE, "invalid data, existing items"),
        ):
            yield name, values.flatmap(partial(_with_items, operation, mode, NOT_SET))
    if bodies:
        with_bodies = st.tuples(values, st.sampled_from(bodies)).flatmap(
            lambda pair: _with_items(operation, GenerationMode.POSITIVE, pair[1], pair[0])
        )
        yield "valid data, given bodies", with_bodies


def _with_items(
    operation: Operation,
    mode: GenerationMode,
    body: Any,
    given: tuple[dict[str, str], dict[str, str]],
) -> SearchStrategy[Case]:
    path, headers = given
    strategy: SearchStrategy[Case] = operation.as_strategy(
        mode,
        path_parameters=path,
        headers=headers or None,
        body=body,
        media_type=None if body is NOT_SET else "application/json",  # given bodies are JSON
    )
    return strategy


def bearer(private_key: str, role: Role = Role.EDITOR) -> dict[str, str]:
    token = TokenIssuer(private_key, None).issue(Principal(f"fuzz-{role.value}", "Фаззер", role))
    return {"Authorization": f"Bearer {token}"}
