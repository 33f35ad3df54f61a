#!/bin/sh
# Builds the npm package's dist/: ES modules, .d.ts declarations and source
# maps compiled from the .ts sources. `npm pack` and `npm publish` run it
# (prepack). The compiler is a build-time tool, installed once into a cache
# directory, never a dependency of the package.
set -eu
cd "$(dirname "$0")/.."
TYPESCRIPT_VERSION=7.0.2
TYPES_NODE_VERSION=22.20.7
tools="${RUNTRACE_CI_TOOLS:-$HOME/.cache/runtrace-ci}/build-npm"
tsc="$tools/node_modules/.bin/tsc"
if ! "$tsc" --version 2>/dev/null | grep -q "$TYPESCRIPT_VERSION" ||
  [ ! -d "$tools/node_modules/@types/node" ]; then
  mkdir -p "$tools"
  # A package.json of its own, so npm installs here and not into a parent.
  [ -f "$tools/package.json" ] || echo '{"private": true}' >"$tools/package.json"
  (cd "$tools" && npm install --no-save --no-audit --no-fund --loglevel=error \
    "typescript@$TYPESCRIPT_VERSION" "@types/node@$TYPES_NODE_VERSION") >&2
fi
rm -rf dist
"$tsc" -p tsconfig.build.json --typeRoots "$tools/node_modules/@types"
# The bin runs on Node.js alone; Bun runs it too (bunx, or bun on a machine
# without Node.js, where bun stands in for node).
sed -i.bak '1s|^#!.*|#!/usr/bin/env node|' dist/cli.js && rm dist/cli.js.bak
chmod +x dist/cli.js
