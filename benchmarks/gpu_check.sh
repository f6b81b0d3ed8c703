#!/usr/bin/env bash
# One-shot GPU check: run it once on a CUDA machine, from the repository root, after
# `make install`; paste what it prints into benchmarks/RESULTS.md ("GPU" section).
#   1. the machine: GPU, driver, compute capability, and the precision dtcd resolves there;
#   2. the CUDA tests (tests/test_cuda.py) and the precision tests;
#   3. the `paper` preset step (Swin-T + DINOv3 ViT-B/16, 2 x 224 + 10 x 96 crops) at batch 64,
#      the paper's per-GPU batch, in bf16: phase table (the augmentation's share is its 'augment'
#      row), images/s, peak memory, and dtcd against the plain torchvision / timm step;
#      then the same with --compile (static shapes; the warm-up step compiles);
#   4. where there are two GPUs, a 2-process DDP pretraining smoke test (tiny config).
# Each part is timed and a failed part does not stop the others; the exit status says if any did.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
STATUS=0

part() {
    local name=$1; shift
    echo; echo "=== $name: $*"
    local start=$SECONDS
    "$@" || { echo "=== $name FAILED (exit $?)"; STATUS=1; }
    echo "=== $name took $((SECONDS - start)) s"
}

part machine nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
part precision "$PYTHON" -c "
from dtcd.precision import resolve_precision
r = resolve_precision('bf16-mixed', 'gpu'); print(r.message('bf16-mixed'))"
part tests "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_precision.py
part paper_bf16_b64 "$PYTHON" -m benchmarks.pretrain_step --preset paper --device cuda \
    --batch-size 64 --precision bf16
part paper_bf16_b64_compile "$PYTHON" -m benchmarks.pretrain_step --preset paper --device cuda \
    --batch-size 64 --precision bf16 --compile --no-baseline --no-flops
if [ "$(nvidia-smi -L | wc -l)" -ge 2 ]; then
    SYNTH=$(mktemp -d)
    part synth "$PYTHON" -m dtcd.main synth --out "$SYNTH" --preset tiny
    part ddp_2gpu "$PYTHON" -m torch.distributed.run --nproc_per_node 2 -m dtcd.main fit \
        --config tests/conf/pretrain_tiny.yaml --data.init_args.root "$SYNTH/pretrain" \
        --trainer.logger.init_args.save_dir "$SYNTH/runs" --trainer.accelerator gpu \
        --trainer.devices 2 --trainer.strategy ddp --trainer.max_steps 4
else
    echo; echo "=== ddp_2gpu skipped: one GPU"
fi
exit $STATUS
