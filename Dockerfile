# The image of every Xabar service, built from the repository root with the one lock file; the
# build arg SERVICE names the service (feed, ingest, polls, publisher), PORT the port it listens
# on (docker compose passes both):
#   docker build --build-arg SERVICE=feed --build-arg PORT=8080 -t xabar-feed .
FROM python:3.11-slim AS build
ARG SERVICE
RUN test -n "$SERVICE" || { echo "--build-arg SERVICE=feed|ingest|polls|publisher" >&2; exit 1; }
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY shared ./shared
COPY services ./services
RUN uv sync --frozen --no-dev --no-editable --package "xabar-${SERVICE}"

FROM python:3.11-slim
ARG SERVICE
ARG PORT
RUN test -n "$PORT" || { echo "--build-arg PORT=<the service's port>" >&2; exit 1; }
RUN useradd --system --uid 10001 --home /app xabar
COPY --from=build /app/.venv /app/.venv
COPY deploy/start.sh /usr/local/bin/xabar-start
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 XABAR_SERVICE=${SERVICE} XABAR_SERVICE_PORT=${PORT}
USER xabar
WORKDIR /app
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; e = os.environ; port = e.get('XABAR_%s_PORT' % e['XABAR_SERVICE'].upper(), e['XABAR_SERVICE_PORT']); urllib.request.urlopen('http://127.0.0.1:%s/readyz' % port, timeout=2)"]
CMD ["sh", "/usr/local/bin/xabar-start"]
