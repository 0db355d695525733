#!/usr/bin/env bash
# vislab's GPU checks in one run (at most 8 minutes of GPU time: the steps' limits add up to 480 s):
# `fast` against airbench's train94, vislab's trainer against a plain PyTorch loop, the GPU-busy share
# of training, and the CUDA tests.
#
# 1. Here — a machine with PyPI and vislab's environment (python = that environment's), once:
#        bash benchmarks/gpu_check.sh --prepare
#    .whl/               wheels for Python 3.12 (the GPU image's) of what that image lacks: kornia,
#                        pydantic, optuna and their dependencies, at this environment's versions, and
#                        airbench built from its sdist. Listed in .git/info/exclude.
#    data/fashion-mnist/ the four Fashion-MNIST files, copied from /usr/share/datasets/fashion-mnist
#                        (apt-get install dataset-fashion-mnist); data/ is git-ignored.
#    Together about 45 MB of the 64 MiB that travel with the working tree.
# 2. There, from the repository root:
#        bash benchmarks/gpu_check.sh
#    With the device tool: run(command="bash benchmarks/gpu_check.sh",
#                              carry=[".whl", "data/fashion-mnist"], timeout_s=600).
#    Everything lands in $OUT (default ./gpu-check-out): vs_airbench.json, vs_plain.json, profile.json,
#    pytest_cuda_sync.log (the sync tests, with a limit of their own), pytest_cuda.log (the other CUDA
#    tests) and gpu_check.log (each step's exit status and the benchmarks' stderr).
#    Each step has its own time limit, so one that hangs does not take the others' results with it, and
#    each benchmark rewrites its JSON after every result it finishes (gpu.py --out): a step cut off by
#    its limit leaves the results it finished, marked "finished": false.
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(kornia kornia_rs pydantic pydantic_core annotated-types typing-inspection typing_extensions
        optuna alembic SQLAlchemy Mako colorlog)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
           manylinux1_x86_64)

prepare() {
    local py=${PYTHON:-python} pins
    pins=$("$py" -c 'import importlib.metadata as m, sys; print(" ".join(f"{n}=={m.version(n)}" for n in sys.argv[1:]))' "${WHEELS[@]}") || exit 1
    mkdir -p .whl data
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    # shellcheck disable=SC2086  # $pins: one argument per package
    "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${PLATFORMS[@]/#/--platform=}" -d .whl $pins || exit 1
    "$py" -m pip wheel -q --no-deps -w .whl "airbench==$("$py" -c 'import importlib.metadata as m; print(m.version("airbench"))' 2>/dev/null || echo 0.1.8)" || exit 1
    local fashion=/usr/share/datasets/fashion-mnist
    if [ -f "$fashion/train-images-idx3-ubyte.gz" ]; then
        mkdir -p data/fashion-mnist && cp "$fashion"/*-ubyte.gz data/fashion-mnist/
    else
        echo "Fashion-MNIST not in $fashion: apt-get install -y dataset-fashion-mnist, then run again" >&2
        exit 1
    fi
    du -sh .whl data/fashion-mnist
}

step() {  # step NAME SECONDS OUTFILE COMMAND...: run one check, its stdout to OUTFILE, stderr to the log
    local name=$1 limit=$2 out=$3
    shift 3
    echo "== $name: $* ($(date +%T))" >> "$LOG"
    timeout "$limit" "$@" > "$out" 2>> "$LOG"
    echo "== $name: exit $? ($(date +%T))" >> "$LOG"
}

bench() {  # bench NAME SECONDS JSONFILE ARGS...: benchmarks/gpu.py ARGS, its JSON kept result by result
    local name=$1 limit=$2 json=$3
    shift 3
    step "$name" "$limit" /dev/null "$py" benchmarks/gpu.py "$@" --out "$OUT/$json"
}

check() {
    local py=${PYTHON:-python3}
    OUT=${OUT:-gpu-check-out}
    LOG=$OUT/gpu_check.log
    mkdir -p "$OUT"
    export PYTHONUNBUFFERED=1
    if compgen -G ".whl/*.whl" > /dev/null; then
        "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/vislab-site .whl/*.whl || exit 1
        export PYTHONPATH=/tmp/vislab-site
    fi
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
    local fashion=/usr/share/datasets/fashion-mnist
    [ -f "$fashion/train-images-idx3-ubyte.gz" ] || fashion=data/fashion-mnist
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
      "$py" -c 'import torch, vislab; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
    } >> "$LOG" 2>&1
    # the figures first, the tests last: a test step cut short still names each test it ran (-vv:
    # pyproject's addopts has -q)
    bench "fast vs airbench" 150 vs_airbench.json --vs-airbench --seeds 3 --fashion-root "$fashion"
    bench "vislab vs plain loop" 90 vs_plain.json --vs-plain
    bench "GPU-busy share" 90 profile.json --profile
    # the sync tests (a step that never waits on the host) with a limit of their own, before the rest and
    # its cold compiles; tiny_modes: the three steps above at a small scale, already run for real
    # (-o addopts=: pyproject's --dist is pytest-xdist's, which one process here does not need)
    local pytest=("$py" -m pytest -o addopts= -vv -rfEs --durations=10 -p no:cacheprovider) per_sync=() per_test=()
    "$py" -c 'import pytest_timeout' 2> /dev/null && per_sync=(--timeout=60) per_test=(--timeout=90)
    local sync=(tests/test_cuda_sync.py tests/test_batch_augment.py::test_batch_ops_never_sync_on_cuda)
    step "CUDA sync tests" 60 "$OUT/pytest_cuda_sync.log" "${pytest[@]}" "${sync[@]}" \
        "${per_sync[@]}"
    # the other CUDA tests (90 s in all, and for any one test), test_compile.py's two cold graphs
    # compiles last: a step cut short by them has run the rest (the files in that order; --ignore drops
    # the sync file among them)
    local files
    mapfile -t files < <(printf '%s\n' tests/test_*.py | grep -vx tests/test_compile.py)
    step "CUDA tests" 90 "$OUT/pytest_cuda.log" "${pytest[@]}" "${files[@]}" tests/test_compile.py \
        --ignore="${sync[0]}" --deselect="${sync[1]}" -k "cuda and not tiny_modes" \
        --continue-on-collection-errors "${per_test[@]}"
}

if [ "${1:-}" = "--prepare" ]; then prepare; else check; fi
