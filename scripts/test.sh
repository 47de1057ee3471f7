#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian/Ubuntu machine, then runs it.
#   bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# Fonts so screenshots and layout tests render real glyphs.
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need_apt+=(fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# The CUDA execution provider download is skipped: package.json's allowScripts denies onnxruntime-node's
# postinstall (npm 11); the variable does the same for an older npm. See README "GPU".
export ONNXRUNTIME_NODE_INSTALL=skip
# A missing browser must fail the browser suite here, not skip it.
export INKWELL_REQUIRE_BROWSER=1
npm ci --no-audit --no-fund
npm test
