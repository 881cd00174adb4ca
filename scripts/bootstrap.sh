#!/usr/bin/env bash
# Install what `make run` and `make test` need on a fresh Debian machine, and nothing twice:
# redis-server (Debian; for `make test` also chromium, its chromium-l10n, and npm), uv (PyPI), the Python environment
# (from uv.lock), FerretDB v1.24.2 (built once from the Go module proxy into ~/.cache/xabar, see
# xabar.runtime.localinfra).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ "${XABAR_BENCH_TOOLS:-0}" = 1 ]; then
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
fi
if [ "${XABAR_BROWSER:-0}" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  # its Russian UI strings: without them a date input shows mm/dd/yyyy whatever the page's locale
  [ -e /usr/lib/chromium/locales/ru.pak ] || need_apt+=(chromium-l10n)
  # the test that the vendored newsroom files are what package-lock.json pins runs `npm ci`
  command -v npm >/dev/null 2>&1 || need_apt+=(npm)
fi
if ((${#need_apt[@]})); then
  echo "bootstrap: installing ${need_apt[*]} from Debian's archive"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "bootstrap: installing uv from PyPI"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi

uv sync --frozen --quiet
uv run --frozen python -m xabar.runtime.localinfra >/dev/null
if [ "${XABAR_BROWSER:-0}" = 1 ]; then
  ./scripts/validators.sh >/dev/null  # the Nu Html Checker, for the readers' site's validators
fi
