#!/bin/sh
# Rebuilds examples/hello.wasm from examples/hello.c. Needs clang with the wasm32 target and
# wasi-libc (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32). The
# built module is committed, so running the examples needs no C toolchain.
set -eu
cd "$(dirname "$0")"
clang --target=wasm32-wasi -O2 -s -o hello.wasm hello.c
