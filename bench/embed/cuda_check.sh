#!/usr/bin/env bash
# Compare the core's CUDA output with its CPU output and report CUDA
# throughput, without PostgreSQL.  Needs a similarity-embed built against a
# CUDA-enabled LibTorch (Debian's libtorch-dev is CPU-only) and a GPU.
#
#   bench/embed/cuda_check.sh DRIVER MODEL_DIR MODEL IMAGE...
#
# Passes when every image's CUDA fp32 features have cosine >= 0.999 with
# the CPU fp32 features; then prints images/s on CUDA in fp32 and fp16.
set -euo pipefail

if [[ $# -lt 4 ]]; then
    echo "usage: $0 DRIVER MODEL_DIR MODEL IMAGE..." >&2
    exit 2
fi
driver=$1 model_dir=$2 model=$3
shift 3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$driver" --model-dir "$model_dir" --model "$model" --device cpu --output raw "$@" >"$work/cpu.bin"
"$driver" --model-dir "$model_dir" --model "$model" --device cuda --output raw "$@" >"$work/cuda.bin"

/usr/bin/python3 - "$work/cpu.bin" "$work/cuda.bin" "$#" <<'PYTHON'
import sys
import numpy as np

count = int(sys.argv[3])
cpu = np.fromfile(sys.argv[1], dtype=np.float32).reshape(count, -1).astype(np.float64)
cuda = np.fromfile(sys.argv[2], dtype=np.float32).reshape(count, -1).astype(np.float64)
cosines = (cpu * cuda).sum(1) / (np.linalg.norm(cpu, axis=1) * np.linalg.norm(cuda, axis=1))
print("cosine CUDA fp32 vs CPU fp32: min %.6f, mean %.6f" % (cosines.min(), cosines.mean()))
if cosines.min() < 0.999:
    sys.exit("FAIL: CUDA output differs from CPU output (cosine < 0.999)")
PYTHON

for precision in fp32 bf16; do  # bf16 runs as fp16 on CUDA
    "$driver" --model-dir "$model_dir" --model "$model" --device cuda --precision "$precision" \
        --batch-size 32 --bench 20 "$@"
done
