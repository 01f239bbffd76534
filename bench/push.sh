#!/usr/bin/env bash
# Push time of one OCI layout to a local registry: distill push against skopeo copy, same
# layout, same registry, each to a fresh repository (so both upload every blob). Prints
# seconds (best of 3) and the ratio. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
for t in docker-registry skopeo; do command -v "$t" >/dev/null || { echo "needs $t: scripts/install-deps test" >&2; exit 1; }; done
cargo build --release -q -p distill
bin=$PWD/target/release/distill
work=$(mktemp -d)
registry=""
trap '[ -z "$registry" ] || { kill "$registry"; wait "$registry" 2>/dev/null; }; rm -rf "$work"' EXIT

# A fresh registry per measurement, so no tool finds blobs to skip or mount.
start_registry() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$work/data"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' "$work" "$port" > "$work/config.yml"
  docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
  registry=$!
  until (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do sleep 0.1; done
}
stop_registry() { kill "$registry"; wait "$registry" 2>/dev/null || true; registry=""; }

# The image: 64 MiB of incompressible data in files, so the push is about bytes.
mkdir -p "$work/ctx/data"
for i in 1 2 3 4; do head -c $((16 << 20)) /dev/urandom > "$work/ctx/data/blob$i"; done
printf '[image]\nentrypoint = ["/x"]\n[[files]]\nsrc = "data"\ndst = "/data/"\n' > "$work/ctx/distill.toml"
"$bin" -q build "$work/ctx" -o "oci:$work/layout:v1" >/dev/null

now() { date +%s.%N; }
# Runs a command line (evaluated once the fresh registry's $port is known); prints seconds.
timed() { start_registry; local t; t=$(now); eval "$1" >/dev/null; echo "$(now) - $t" | bc; stop_registry; }
d=$(for i in 1 2 3; do timed '"$bin" -q push "oci:$work/layout:v1" "docker://127.0.0.1:$port/app:1"'; done | sort -n | head -n1)
s=$(for i in 1 2 3; do timed 'skopeo copy -q --dest-tls-verify=false "oci:$work/layout:v1" "docker://127.0.0.1:$port/app:1"'; done | sort -n | head -n1)
printf '%-36s %8.2f s\n' "distill push (64 MiB, best of 3)" "$d" "skopeo copy (64 MiB, best of 3)" "$s"
printf 'ratio distill/skopeo: %.2f\n' "$(echo "$d / $s" | bc -l)"
