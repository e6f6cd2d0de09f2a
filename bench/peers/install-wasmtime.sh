#!/bin/sh
# Installs the Wasmtime CLI that bench/run.py compares Kiln with, into bench/peers/.wasmtime/
# (gitignored). 48.0.8 is the Wasmtime release built on Cranelift 0.135.8, the version Kiln
# uses, so the two differ in what they do with Cranelift rather than in Cranelift itself.
# Takes 20 minutes or more on 2 cores. Afterwards: python3 bench/run.py (it finds
# bench/peers/.wasmtime/bin/wasmtime by itself).
set -eu
cd "$(dirname "$0")"
cargo install wasmtime-cli@48.0.8 --locked --root .wasmtime
.wasmtime/bin/wasmtime --version
