#!/bin/sh
# The image's command (see the Dockerfile): `python -m xabar.$XABAR_SERVICE`, listening on every
# interface and on the image's port unless XABAR_<SERVICE>_HOST / _PORT say otherwise.
set -eu
prefix="XABAR_$(printf '%s' "$XABAR_SERVICE" | tr 'a-z' 'A-Z')"
eval "export ${prefix}_HOST=\"\${${prefix}_HOST:-0.0.0.0}\""
eval "export ${prefix}_PORT=\"\${${prefix}_PORT:-$XABAR_SERVICE_PORT}\""
exec python -m "xabar.$XABAR_SERVICE"
