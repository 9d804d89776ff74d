#!/usr/bin/env bash
# Vendor the browser libraries of the playground (GET /graphql) and the dashboard
# (/dashboard) into server/transport/static/vendor/, from the npm registry, at the
# pinned versions below, each beside its licence.
#
# The files it writes are committed: the server serves them itself and needs no
# network, and a page it serves never loads anything from another host. Run it
# only to change a version (edit the pins, run it, review and commit the diff):
#
#     scripts/vendor-web-assets.sh
#
# It needs npm and access to the registry (npm's own configuration applies, e.g.
# a mirror in ~/.npmrc). `npm pack` checks each tarball against the integrity the
# registry publishes; PACKAGES.txt records that integrity and SHA256SUMS the
# digest of every file copied (tests/browser/test_assets.py checks both files).
set -euo pipefail
cd "$(dirname "$0")/.."

DEST=server/transport/static/vendor
REACT=18.3.1                 # the last React with UMD builds; GraphiQL 4 takes 18 or 19
GRAPHIQL=4.1.2               # the last GraphiQL with a UMD build (5 needs a bundler)
PLUGIN_EXPLORER=4.0.6        # @graphiql/plugin-explorer for @graphiql/react 0.34 (GraphiQL 4.1)
GRAPHIQL_EXPLORER=0.9.0      # bundled into the plugin, which ships no licence file of its own
GRAPHQL_WS=6.4.2
UPLOT=1.6.32

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# unpack SPEC: download SPEC's tarball into $work and unpack it; prints the package folder.
unpack() {
  local spec="$1" tarball
  tarball="$(cd "$work" && npm pack --silent "$spec" | tail -n 1)"
  mkdir -p "$work/${tarball%.tgz}"
  tar -xzf "$work/$tarball" -C "$work/${tarball%.tgz}"
  printf '%s %s\n' "$spec" \
    "sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w 0)" >>"$work/PACKAGES.txt"
  printf '%s\n' "$work/${tarball%.tgz}/package"
}

# vendor NAME SPEC FILE...: copy FILEs (paths inside the package) into $DEST/NAME/.
vendor() {
  local name="$1" spec="$2" package
  shift 2
  package="$(unpack "$spec")"
  mkdir -p "$work/out/$name"
  for file in "$@"; do
    cp "$package/$file" "$work/out/$name/"
  done
}

vendor react "react@$REACT" umd/react.production.min.js LICENSE
vendor react-dom "react-dom@$REACT" umd/react-dom.production.min.js LICENSE
vendor graphiql "graphiql@$GRAPHIQL" graphiql.min.js graphiql.min.css LICENSE
vendor graphiql-plugin-explorer "@graphiql/plugin-explorer@$PLUGIN_EXPLORER" \
  dist/index.umd.js dist/style.css
# The plugin comes from the graphiql repository (MIT, the licence graphiql ships)
# and bundles graphiql-explorer (MIT, its own licence file).
cp "$work/out/graphiql/LICENSE" "$work/out/graphiql-plugin-explorer/LICENSE"
explorer="$(unpack "graphiql-explorer@$GRAPHIQL_EXPLORER")"
cp "$explorer/LICENSE" "$work/out/graphiql-plugin-explorer/LICENSE.graphiql-explorer"
vendor graphql-ws "graphql-ws@$GRAPHQL_WS" umd/graphql-ws.min.js LICENSE.md
vendor uplot "uplot@$UPLOT" dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE

cp "$work/PACKAGES.txt" "$work/out/PACKAGES.txt"
(cd "$work/out" && find . -type f ! -name SHA256SUMS ! -name PACKAGES.txt | LC_ALL=C sort |
  sed 's|^\./||' | xargs sha256sum >SHA256SUMS)
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
cp -r "$work/out" "$DEST"
echo "vendored into $DEST:"
cat "$DEST/PACKAGES.txt"
