#!/bin/sh
# asan-kernels.sh — builds zj_gemm and the quantized zj_matvec (drivers, pool, CPU dispatch and every ISA kernel,
# each with its own ISA flags as in binding.gyp) with a small C++ driver under AddressSanitizer + UBSan, and runs odd shapes
# on every ISA path this CPU has; then the fused attention (forward, over transposed keys in f32 and bf16, backward) the same way. Usage: scripts/asan-kernels.sh [extra driver args, default `check`]
set -eu
cd "$(dirname "$0")/.."
out=build/asan
mkdir -p "$out"
flags="-O1 -g -std=c++17 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -pthread"
objs=""
for f in native/src/gemm.cc native/src/pool.cc native/src/cpu.cc native/src/matvec.cc native/src/quant.cc \
    native/src/quant_q8_0.cc native/src/quant_q4_0.cc; do
  o="$out/$(basename "$f" .cc).o"; g++ $flags -c "$f" -o "$o"; objs="$objs $o"
done
if [ "$(uname -m)" = x86_64 ]; then
  for f in native/src/avx512/gemm_*.cc native/src/avx512/matvec_*.cc native/src/avx512/quant_*.cc; do
    o="$out/$(basename "$f" .cc).o"
    g++ $flags -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512bf16 -mfma -mf16c -mavx2 -c "$f" -o "$o"
    objs="$objs $o"
  done
  for f in native/src/amx/*.cc; do
    o="$out/$(basename "$f" .cc).o"
    g++ $flags -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512bf16 -mfma -mavx2 -mamx-tile -mamx-bf16 -mamx-int8 \
      -c "$f" -o "$o"
    objs="$objs $o"
  done
  for f in native/src/avx2/gemm_*.cc native/src/avx2/matvec_*.cc native/src/avx2/quant_*.cc; do
    o="$out/$(basename "$f" .cc).o"; g++ $flags -mavx2 -mfma -mf16c -c "$f" -o "$o"; objs="$objs $o"
  done
fi
g++ $flags test/native/gemm-check.cc $objs -o "$out/gemm-check"
# amx runs the AVX-512 kernels where the CPU has no AMX.
for isa in scalar avx2 avx512 amx; do
  for threads in 1 2; do
    echo "== ZJ_ISA=$isa ZJ_THREADS=$threads"
    ZJ_ISA=$isa ZJ_THREADS=$threads "$out/gemm-check" "${@:-check}"
  done
done
# The strip batch kernel and the prefill tiles, which the panel kernel replaces at these row counts by default.
for threads in 1 2; do
  echo "== ZJ_ISA=avx512 ZJ_QUANT_PANEL=0 ZJ_THREADS=$threads"
  ZJ_ISA=avx512 ZJ_QUANT_PANEL=0 ZJ_THREADS=$threads "$out/gemm-check" "${@:-check}"
done
# The fused attention kernels (attention.cc and each ISA's simd table) with their own driver, exact-sized buffers.
aobjs="$out/pool.o $out/cpu.o"
for f in native/src/attention.cc native/src/simd_scalar.cc; do
  o="$out/$(basename "$f" .cc).o"; g++ $flags -c "$f" -o "$o"; aobjs="$aobjs $o"
done
isas=scalar
if [ "$(uname -m)" = x86_64 ]; then
  g++ $flags -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512bf16 -mfma -mf16c -mavx2 -c native/src/avx512/simd_avx512.cc \
    -o "$out/simd_avx512.o"
  g++ $flags -mavx2 -mfma -mf16c -c native/src/avx2/simd_avx2.cc -o "$out/simd_avx2.o"
  aobjs="$aobjs $out/simd_avx512.o $out/simd_avx2.o"
  isas="scalar avx2 avx512"
fi
g++ $flags test/native/attention-check.cc $aobjs -o "$out/attention-check"
for isa in $isas; do
  for threads in 1 2; do
    echo "== attention ZJ_ISA=$isa ZJ_THREADS=$threads"
    ZJ_ISA=$isa ZJ_THREADS=$threads "$out/attention-check" check
  done
done
