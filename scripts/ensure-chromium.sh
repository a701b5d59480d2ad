#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (Playwright cannot download its own here).
set -eu
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "Chromium is not installed; browser tests will be skipped. Install the 'chromium' package to run them." >&2
fi
