#!/usr/bin/env bash
# Runs the whole benchmark (ceilings, inference, training, kernels) on a machine with a GPU, from a copy
# of the working tree that does not need node_modules or an npm install there.
#
#   bash bench/device.sh pack          # here: bundle into bench/.device/ (ignored by git; ~50 MB)
#   bash bench/device.sh run [args…]   # there: run it; args go to every bench (e.g. --quick)
#   bash bench/device.sh               # both, on one machine
#   bash bench/device.sh local [args…] # here, no GPU needed: pack, copy only what a GPU machine gets
#                                      # (bench/device.sh, bench/.device, public/models) into a temp
#                                      # dir and run it there, --quick, small cases, on SwiftShader:
#                                      # proves the pack
#
# pack builds bench/.device/app/{bench,train,kernels}.mjs with Vite (every dependency inlined but the
# `webgpu` package), copies the Dawn binding for linux-x64 (node_modules/webgpu) beside it, and packs
# this Node binary (xz) so the GPU machine needs no Node of its own. Carry `bench/.device` with the
# working tree (e.g. the device tool's `carry`), then `bash bench/device.sh run`.
#
# run writes bench-infer.json, bench-train.json and bench-kernels.json (each the bench's last output
# line) and a log into $OUT when it is set, else into bench/results/; with --write-docs the benches also
# rewrite their tables in docs/perf.md with the date and the device. INFER_ARGS and TRAIN_ARGS add
# arguments for one bench only (e.g. INFER_ARGS="--only stories260K"); KERNELS_ARGS holds the kernel
# bench's own (it takes none of the others'; e.g. KERNELS_ARGS="--no-real --reps 1").
# Not included: bench:peers, which needs Chromium (run `PEERS_GPU=1 npm run -s bench:peers` there).
# A machine without a Vulkan loader needs one: put libvulkan1's .deb files in .gl/ (carried too); run
# unpacks them first.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=bench/.device
mode=${1:-all}
[ $# -gt 0 ] && shift

pack() {
  [ -d node_modules/webgpu ] || { echo "device.sh pack: node_modules/webgpu is missing; run npm ci first." >&2; exit 1; }
  npx vite build --config bench/vite.device.config.ts
  mkdir -p "$PACK/node_modules/webgpu/dist"
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$PACK/node_modules/webgpu/"
  rm -rf "$PACK/node_modules/webgpu/dist/linux-x64"
  cp -r node_modules/webgpu/dist/linux-x64 "$PACK/node_modules/webgpu/dist/"
  # The bundle imports 'webgpu' by name: resolve it from the pack's own node_modules.
  # Node itself, compressed to fit the 64 MiB a working-tree copy may carry (kept between packs).
  if [ ! -f "$PACK/node.xz" ] || [ "$(command -v node)" -nt "$PACK/node.xz" ]; then
    cp -f "$(command -v node)" "$PACK/node"
    xz -T0 -6 -f "$PACK/node"
  fi
  echo "device.sh: packed $(du -sh "$PACK" | cut -f1) into $PACK" >&2
}

run() {
  [ -f "$PACK/app/bench.mjs" ] || { echo "device.sh run: $PACK/app is missing; run 'bash bench/device.sh pack' where node_modules is installed, and carry $PACK." >&2; exit 1; }
  if ! ldconfig -p 2>/dev/null | grep -q libvulkan && ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  local NODE
  if [ -f "$PACK/node.xz" ]; then
    [ -x "$PACK/node" ] || { xz -dkf "$PACK/node.xz"; chmod +x "$PACK/node"; }
    NODE=$PACK/node
  else
    NODE=$(command -v node)
  fi
  local out=${OUT:-bench/results}
  mkdir -p "$out"
  echo "device.sh: node $NODE $("$NODE" --version)" | tee -a "$out/device-log.txt" >&2
  # The bundles sit in $PACK/app: symlink the webgpu package where Node's resolver looks from there.
  mkdir -p "$PACK/app/node_modules"
  ln -sfn ../../node_modules/webgpu "$PACK/app/node_modules/webgpu"
  local status=0
  for b in bench train kernels; do
    local extra=()
    # shellcheck disable=SC2206 # word splitting of the argument strings is wanted
    case "$b" in
      bench) extra=("$@" ${INFER_ARGS:-}) ;;
      train) extra=("$@" ${TRAIN_ARGS:-}) ;;
      kernels) extra=(${KERNELS_ARGS:-}) ;;
    esac
    echo "== $b ${extra[*]}" | tee -a "$out/device-log.txt"
    if "$NODE" "$PACK/app/$b.mjs" "${extra[@]}" > "$out/.$b.stdout" 2> >(tee -a "$out/device-log.txt" >&2); then
      tail -n 1 "$out/.$b.stdout" > "$out/bench-$b.json"
    else
      status=1
      echo "device.sh: $b failed" | tee -a "$out/device-log.txt" >&2
    fi
    rm -f "$out/.$b.stdout"
  done
  [ -f "$out/bench-bench.json" ] && mv "$out/bench-bench.json" "$out/bench-infer.json"
  echo "device.sh: results in $out" >&2
  return $status
}

local_check() {
  pack
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/twb-device-XXXXXX")
  mkdir -p "$dir/bench" "$dir/public"
  cp bench/device.sh "$dir/bench/"
  cp -r "$PACK" "$dir/bench/"
  cp -r public/models "$dir/public/"
  rm -f "$dir/$PACK/node" # unpacked from node.xz by run, as on a GPU machine
  local out=${OUT:-$PWD/bench/results/local}
  mkdir -p "$out"
  echo "device.sh local: running the pack from $dir (no node_modules, no npm), results in $out" >&2
  # run uses the packed Node (it logs which); SwiftShader is picked by the engine without /dev/dri.
  # Small cases only: the point is the pack, and the 100M mixture comparison alone takes many minutes
  # on a shared SwiftShader.
  trap "rm -rf '$dir'" EXIT
  (cd "$dir" && env OUT="$out" INFER_ARGS="${INFER_ARGS:---only stories260K}" KERNELS_ARGS="${KERNELS_ARGS:---no-real --reps 1}" /bin/bash bench/device.sh run --quick "$@")
}

case "$mode" in
  pack) pack ;;
  run) run "$@" ;;
  all) pack && run "$@" ;;
  local) local_check "$@" ;;
  *) echo "usage: bash bench/device.sh [pack|run|all|local] [bench args…]" >&2; exit 2 ;;
esac
