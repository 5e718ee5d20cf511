#!/usr/bin/env bash
# One call on a machine with a GPU: the adapter and its profile, the variant each kernel
# family uses, the test suite, the measured tuning (hand choice vs tuned step) and the full
# benchmark tables, each also written to a file under OUT (default gpu-check/).
#   DENO=/path/to/deno OUT=/some/dir bash tools/gpu_check.sh
# On the lent GPU machine, unpack Deno and the Vulkan loader first (../shared/tools/GPU.md).
set -uo pipefail
cd "$(dirname "$0")/.."
deno=${DENO:-deno}
out=${OUT:-gpu-check}
mkdir -p "$out"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
# the tuning file of this check stays with its results
export WEBGPU_RESNET_TUNING_CACHE=$out/tuning.json
status=0
step() {
  local name=$1
  shift
  echo "== $name: $*"
  "$@" 2>&1 | tee "$out/$name.txt"
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc"
  [[ $rc -eq 0 ]] || status=1
}
command -v nvidia-smi >/dev/null && nvidia-smi -L
step info "$deno" run -A cli.ts info
step tests env WEBGPU_RESNET_AUTOTUNE=0 "$deno" test -A tests/
step tune "$deno" run -A cli.ts bench --tune
step bench "$deno" run -A cli.ts bench
echo "results in $out/ (exit $status)"
exit $status
