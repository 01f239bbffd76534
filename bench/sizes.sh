#!/usr/bin/env bash
# The family's image sizes, as in docs/sizes.md: for each member and Debian release, the
# compressed size (the layer blobs a pull transfers), the uncompressed size (the layer tars)
# and the layer count, for linux/amd64, variant nonroot, gzip.
# Usage: bench/sizes.sh [path/to/distill]
set -euo pipefail
cd "$(dirname "$0")/.."
distill=${1:-target/release/distill}
[ -x "$distill" ] || cargo build --release --locked -q -p distill
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| image | Debian | compressed | uncompressed | layers |"
echo "|---|---|---|---|---|"
for debian in 12 13; do
  for name in static base-nossl base cc python3 java nodejs22 nodejs24 nodejs26; do
    layout="$out/$name-$debian"
    "$distill" -q base "$name" --debian "$debian" -o "oci:$layout" >/dev/null
    python3 - "$layout" "$name" "$debian" <<'PY'
import gzip, json, sys, os
layout, name, debian = sys.argv[1:]
blob = lambda d: os.path.join(layout, "blobs/sha256", d.split(":")[1])
index = json.load(open(os.path.join(layout, "index.json")))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
packed = sum(l["size"] for l in manifest["layers"])
unpacked = 0
for l in manifest["layers"]:
    with gzip.open(blob(l["digest"])) as f:
        while chunk := f.read(1 << 20):
            unpacked += len(chunk)
print(f"| {name} | {debian} | {packed/1e6:.1f} MB | {unpacked/1e6:.1f} MB | {len(manifest['layers'])} |")
PY
    rm -rf "$layout"
  done
done
