#!/usr/bin/env python3
"""Compile-cache benchmark: the second `kiln run` of a large module skips compilation.

Generates a module of several MB (default 12,000 functions of ~500 bytes each), then times
`kiln run` on it: with the cache off (always compiles), the first run with an empty cache
(compiles and writes the entry), and later runs (load the authenticated artifact). Prints the
median of each. Usage (after `cargo build --release`):

    python3 benches/cache.py [--functions N] [--runs R] [--kiln target/release/kiln]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def leb_u(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def leb_s(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def section(sid, payload):
    return bytes([sid]) + leb_u(len(payload)) + payload


def vec(items):
    return leb_u(len(items)) + b"".join(items)


def module(functions):
    # One type: (func (param i32) (result i32)).
    types = section(1, vec([b"\x60\x01\x7f\x01\x7f"]))
    funcs = section(3, vec([leb_u(0)] * functions))
    exports = section(7, vec([leb_u(2) + b"f0" + b"\x00" + leb_u(0)]))
    bodies = []
    for i in range(functions):
        code = bytearray(b"\x20\x00")  # local.get 0
        for k in range(60):
            code += b"\x41" + leb_s((i * 31 + k * 7) % 100000)  # i32.const
            code += b"\x6a"  # i32.add
            code += b"\x41" + leb_s(k + 3) + b"\x6c"  # i32.const; i32.mul
            code += b"\x41" + leb_s(k) + b"\x73"  # i32.const; i32.xor
        if i + 1 < functions and i % 16 != 15:
            code += b"\x10" + leb_u(i + 1)  # call the next function
        code += b"\x0b"
        body = leb_u(0) + bytes(code)  # no locals
        bodies.append(leb_u(len(body)) + body)
    code_section = section(10, vec(bodies))
    return b"\x00asm\x01\x00\x00\x00" + types + funcs + exports + code_section


def timed(cmd, env):
    start = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.decode()}")
    return elapsed, r.stdout.decode().strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions", type=int, default=12000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--kiln", default="target/release/kiln")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="kiln-cache-bench-")
    try:
        wasm = os.path.join(work, "large.wasm")
        with open(wasm, "wb") as f:
            f.write(module(args.functions))
        size = os.path.getsize(wasm)
        env = dict(os.environ)
        env["KILN_ARTIFACT_KEY"] = os.path.join(work, "artifact.key")
        cache = os.path.join(work, "cache")
        run = [args.kiln, "run", "--cache-dir", cache, wasm, "--invoke", "f0", "1"]
        off = [args.kiln, "run", "--cache=off", wasm, "--invoke", "f0", "1"]

        uncached, firsts, seconds, results = [], [], [], set()
        for _ in range(args.runs):
            t, out = timed(off, env)
            uncached.append(t)
            results.add(out)
            shutil.rmtree(cache, ignore_errors=True)
            t, out = timed(run, env)
            firsts.append(t)
            results.add(out)
            t, out = timed(run, env)
            seconds.append(t)
            results.add(out)
        if len(results) != 1:
            raise SystemExit(f"runs disagree: {results}")
        entry = sum(os.path.getsize(os.path.join(cache, n)) for n in os.listdir(cache))
        print(f"module: {size / 1e6:.1f} MB of wasm, {args.functions} functions; cache entry {entry / 1e6:.1f} MB")
        print(f"kiln run --cache=off          median {statistics.median(uncached) * 1000:8.1f} ms")
        print(f"kiln run, first (cold cache)  median {statistics.median(firsts) * 1000:8.1f} ms")
        print(f"kiln run, second (cache hit)  median {statistics.median(seconds) * 1000:8.1f} ms")
        print(f"speedup of the second run: {statistics.median(firsts) / statistics.median(seconds):.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
