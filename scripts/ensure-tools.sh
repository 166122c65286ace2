#!/usr/bin/env bash
# Command-line tools the tests use besides the database servers: headless Chromium (the review
# and fidelity report pages are opened in a real browser, tests/test_pages_browser.py),
# openssl (signatures checked with plain openssl) and psql.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
command -v psql >/dev/null || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "tools: chromium, openssl, psql present"
