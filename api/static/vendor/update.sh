#!/usr/bin/env bash
# Fetch the vendored assets again from the npm registry and check them against README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent htmx.org@2.0.11 @picocss/pico@2.1.1 echarts@5.6.0 >/dev/null
for f in *.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
cp htmx.org-2.0.11/package/dist/htmx.min.js "$here/htmx-2.0.11.min.js"
cp picocss-pico-2.1.1/package/css/pico.min.css "$here/pico-2.1.1.min.css"
cp echarts-5.6.0/package/dist/echarts.min.js "$here/echarts-5.6.0.min.js"
cd "$here"
grep -oE '`[a-z0-9.-]+\.(js|css)` \| .* \| `[0-9a-f]{64}`' README.md |
  sed -E 's/^`([^`]+)`.*`([0-9a-f]{64})`$/\2  \1/' | sha256sum -c -
