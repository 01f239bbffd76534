#!/usr/bin/env bash
# Resolve-and-download of python3 for Debian 12, cold (empty cache) and warm (cached
# indexes and packages), against mmdebstrap --variant=extract doing the same from the same
# mirror. Prints seconds and ratios. Not a test: numbers vary with the network.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v mmdebstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2; }
cargo build --release -q -p distill
bin=$PWD/target/release/distill
# The mirror of the host's apt sources, as distill itself finds it.
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ctx"
printf '[image]\ndebian = "12"\n[packages]\ninclude = ["python3"]\n' > "$work/ctx/distill.toml"

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

t=$(now); DISTILL_CACHE=$work/cache "$bin" -q build "$work/ctx" -o "oci:$work/cold" >/dev/null; cold=$(elapsed "$t")
warm=999
for i in 1 2 3; do
  rm -rf "$work/warm"
  t=$(now); DISTILL_CACHE=$work/cache "$bin" -q build "$work/ctx" -o "oci:$work/warm" >/dev/null; w=$(elapsed "$t")
  warm=$(echo "if ($w < $warm) $w else $warm" | bc)
done
lock=999
for i in 1 2 3; do
  t=$(now); DISTILL_CACHE=$work/cache "$bin" -q lock "$work/ctx" 2>/dev/null; l=$(elapsed "$t")
  lock=$(echo "if ($l < $lock) $l else $lock" | bc)
done
t=$(now); mmdebstrap --quiet --variant=extract --include=python3 bookworm "$work/mm" "deb $mirror bookworm main" 2>/dev/null; mm=$(elapsed "$t")

printf '%-44s %8.2f s\n' "distill build python3, cold cache" "$cold"
printf '%-44s %8.2f s\n' "distill build python3, warm cache (best of 3)" "$warm"
printf '%-44s %8.2f s\n' "distill lock python3, warm (resolution only)" "$lock"
printf '%-44s %8.2f s\n' "mmdebstrap --variant=extract python3" "$mm"
printf 'ratio cold/mmdebstrap: %.2f   warm/mmdebstrap: %.2f\n' "$(echo "$cold / $mm" | bc -l)" "$(echo "$warm / $mm" | bc -l)"
