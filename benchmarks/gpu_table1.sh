#!/bin/bash
# Table 1's GPU rows at the paper's protocol: the CIFAR-10 models and the Conv
# HAM on MNIST, trained concurrently on one GPU (one of these models alone does
# not fill a large GPU), each bounded by --time-limit so that a job with a
# wall-clock allocation ends with checkpoints; run it again to continue.
#
#   bash benchmarks/gpu_table1.sh MNIST.npz CIFAR10.npz OUT [MINUTES] [MODELS...]
#
# Each model gets its own --out (OUT/<model>), its log in OUT/logs/<model>.log,
# and its curves and records as `hamax reproduce` writes them. The GPU's memory
# is shared out with XLA_PYTHON_CLIENT_MEM_FRACTION; the JAX compilation cache
# (OUT/jax-cache) makes the programs of a continued run start at once.
set -u
if [ $# -lt 3 ]; then
  echo "usage: $0 MNIST.npz CIFAR10.npz OUT [MINUTES] [MODELS...]" >&2
  exit 2
fi
MNIST=$1 CIFAR=$2 OUT=$3 MINUTES=${4:-60}
shift $(( $# < 4 ? $# : 4 ))
MODELS=${*:-conv_ham_mnist hn_relu_cifar10 hn_softmax_cifar10 conv_ham_cifar10}
HAMAX=${HAMAX:-hamax}
N=$(echo $MODELS | wc -w)
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-$(python3 -c "print(round(0.9 / $N, 3))")}
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$OUT/jax-cache}
mkdir -p "$OUT/logs"
pids=()
for m in $MODELS; do
  case $m in *_mnist) data="mnist=$MNIST" ;; *) data="cifar10=$CIFAR" ;; esac
  $HAMAX reproduce --models "$m" --data "$data" --epochs 100 --time-limit "$MINUTES" \
    --out "$OUT/$m" ${EXTRA:-} > "$OUT/logs/$m.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$(( $? > rc ? $? : rc )); done
cat "$OUT"/*/results.md 2>/dev/null | grep -m 2 "^| [m-]"
cat "$OUT"/*/results.md 2>/dev/null | grep "^| [a-z]" | grep -v "^| model"
exit $rc
