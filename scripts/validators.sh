#!/usr/bin/env bash
# The validators `make test` checks the readers' site with, installed once and then run
# offline: the Nu Html Checker (nu.validator:validator, pinned in tools/validators/pom.xml) and
# its dependencies from Maven Central into ~/.cache/xabar/validators/vnu-VERSION/lib; Java
# (Debian's) also runs the XML Schema checks of the sitemaps. axe-core is vendored
# (tools/validators/axe). Prints the directory of the checker's jars.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's:.*<version>\([0-9.]*\)</version>.*:\1:p' tools/validators/pom.xml | tail -1)
dest="${XABAR_CACHE_DIR:-$HOME/.cache/xabar}/validators/vnu-$version"
if [ ! -f "$dest/.complete" ]; then
  need_apt=()
  command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
  command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
  if ((${#need_apt[@]})); then
    echo "validators: installing ${need_apt[*]} from Debian's archive" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  echo "validators: fetching the Nu Html Checker $version from Maven Central (once)" >&2
  rm -rf "$dest"
  mvn -q -B -f tools/validators/pom.xml dependency:copy-dependencies \
    -DoutputDirectory="$dest/lib" -DincludeScope=runtime >&2
  touch "$dest/.complete"
fi
echo "$dest/lib"
