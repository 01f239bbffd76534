#!/usr/bin/env bash
# distill inspect on two images, against the floor of what any inspector must do: decompress
# every layer, hash it, and list its tar (gzip -dc | sha256sum, tar -tv). dive and slim's
# xray would be the peers, but both need a Docker daemon. Medians of 5 whole-process runs,
# peak RSS of distill with GNU time. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
for t in mmdebstrap podman /usr/bin/time; do command -v "$t" >/dev/null || { echo "needs $t: scripts/install-deps test" >&2; exit 1; }; done
cargo build --release -q -p distill
bin=$PWD/target/release/distill
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# distill's python3 on Debian 12, and a Debian 12 minbase made by mmdebstrap (from the host's
# apt mirror) and imported by podman.
"$bin" -q base python3 --debian 12 -o "oci:$work/python3" >/dev/null
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^http/) { print $i; exit } }' /etc/apt/sources.list)
mmdebstrap --quiet --mode=unshare --variant=minbase bookworm "$work/minbase.tar" "$mirror"
id=$(podman import -q "$work/minbase.tar")
podman save -q --format oci-dir -o "$work/minbase" "$id"
podman rmi -f "$id" >/dev/null

now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
timed() { local t; t=$(now); eval "$1" >/dev/null 2>&1; echo "$(now) - $t" | bc; }
# Every layer blob of an OCI layout (podman's oci-dir layers are uncompressed or gzip).
floor() {
  for b in $(python3 -c "
import json, sys
d = sys.argv[1]
idx = json.load(open(d + '/index.json'))
m = idx['manifests'][0]['digest'].split(':')[1]
print(' '.join(l['digest'].split(':')[1] for l in json.load(open(d + '/blobs/sha256/' + m))['layers']))
" "$1"); do
    f="$1/blobs/sha256/$b"
    if gzip -t "$f" 2>/dev/null; then gzip -dc "$f"; else cat "$f"; fi | tee >(sha256sum >/dev/null) | tar -tvf - >/dev/null
  done
}
printf '%-22s %10s %10s %8s %10s\n' image distill floor ratio "peak RSS"
for img in python3 minbase; do
  d=$(for i in 1 2 3 4 5; do timed '"$bin" inspect --json "oci:$work/$img"'; done | median)
  f=$(for i in 1 2 3 4 5; do timed 'floor "$work/$img"'; done | median)
  rss=$(/usr/bin/time -f %M "$bin" inspect --json "oci:$work/$img" 2>&1 >/dev/null | tail -n1)
  printf '%-22s %9.2fs %9.2fs %7.2fx %7d MB\n' "$img" "$d" "$f" "$(echo "$d / $f" | bc -l)" $((rss / 1024))
done
