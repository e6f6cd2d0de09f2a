#!/bin/sh
# Rebuilds the WASI test guests (*.c, *.cpp -> *.wasm) in this directory. The built modules are
# committed, so `cargo test` needs no C toolchain; rerun this after changing a source.
# Needs clang with the wasm32 target, wasi-libc and (for C++) libc++ (Debian:
# apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32 libc++-14-dev-wasm32
# libc++abi-14-dev-wasm32).
set -eu
cd "$(dirname "$0")"
for src in *.c; do
    clang --target=wasm32-wasi -O2 -s -Wall -Werror -o "${src%.c}.wasm" "$src"
done
for src in *.cpp; do
    clang++ --target=wasm32-wasi -std=c++17 -O2 -s -Wall -Werror -fno-exceptions -o "${src%.cpp}.wasm" "$src"
done
