#!/bin/sh
# Rebuilds the benchmark workloads (*.c) into wasm/NAME.wasm (wasm32-wasi, -O2) and
# wasm/NAME-simd.wasm (the same plus -msimd128, so LLVM may auto-vectorize with wasm SIMD).
# The built modules are committed, so running the suite (bench/run.py) needs clang only for the
# native builds, which it makes itself. Rerun this after changing a source.
# Needs clang with the wasm32 target and wasi-libc (Debian:
# apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32).
set -eu
cd "$(dirname "$0")"
mkdir -p wasm
for src in *.c; do
    name="${src%.c}"
    clang --target=wasm32-wasi -O2 -s -Wall -Werror -o "wasm/$name.wasm" "$src"
    clang --target=wasm32-wasi -O2 -msimd128 -s -Wall -Werror -o "wasm/$name-simd.wasm" "$src"
done
