#!/usr/bin/env python3
"""Kiln's benchmark suite (issue 9): execution, compile time and micro benchmarks beside
Wasmtime and native code, written to bench/results/latest.json and docs/performance.md.

    python3 bench/run.py                 # everything: about 15 minutes on 2 cores, once built
    python3 bench/run.py --quick         # 1 repetition, 3 workloads, no large module, no micro
    python3 bench/run.py --only fib,lz --reps 3 --skip-micro
    python3 bench/run.py --report-only   # regenerate docs/performance.md from latest.json

What it does:
- builds Kiln (`cargo build --release -p kiln-cli` in this repository, unless `--kiln PATH`),
  the natives (clang -O2, into bench/.work/native/), and finds Wasmtime (`--wasmtime PATH`,
  else $WASMTIME, else bench/peers/.wasmtime/bin/wasmtime from bench/peers/install-wasmtime.sh);
- execution: every workload in bench/programs/wasm/ (scalar and -msimd128) is precompiled once
  per runtime, then `kiln run X.kwasm`, `wasmtime run --allow-precompiled X.cwasm` and the
  native binary (and `node`, with `--node`) run interleaved, round-robin per repetition; the
  wall time of each process is measured and the median kept; every run's `checksum:` line must
  equal the native one, otherwise the run fails;
- compile: wall and CPU (user+sys) time of `kiln compile` and `wasmtime compile` (compile
  cache off, default opt level, all cores) for every workload and one large module (esbuild's
  Go-compiled esbuild.wasm from a pinned npm package, checked against a recorded SHA-256);
- micro: `cargo bench --bench instantiate --bench calls` in the repository and `cargo bench`
  in bench/peers/wasmtime-bench/, paired by criterion group and bench id.

Only the Python 3.11 standard library is used; the chart is SVG written by hand.
"""

import argparse
import datetime
import glob
import hashlib
import importlib.util
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
PROGRAMS = os.path.join(BENCH, "programs")
WASM_DIR = os.path.join(PROGRAMS, "wasm")
WORK = os.path.join(BENCH, ".work")
RESULTS = os.path.join(BENCH, "results", "latest.json")
TEMPLATE = os.path.join(BENCH, "performance.md.in")
REPORT = os.path.join(ROOT, "docs", "performance.md")
CHART = os.path.join(ROOT, "docs", "performance-exec.svg")
WASMTIME_BENCH = os.path.join(BENCH, "peers", "wasmtime-bench")
NODE_RUNNER = os.path.join(BENCH, "peers", "node-wasi.mjs")

WORKLOADS = [
    "nbody",
    "fannkuch",
    "spectral_norm",
    "mandelbrot",
    "sha256",
    "lz",
    "sort_search",
    "matmul",
    "hashmap",
    "fib",
]
QUICK_WORKLOADS = ["fib", "nbody", "sha256"]
VARIANTS = ["scalar", "simd"]
WASMTIME_VERSION = "48.0.8"

# The large module: esbuild.wasm (Go-compiled, about 14 MB, 5307 functions) from the npm
# package esbuild-wasm, pinned by version and by the SHA-256 of the tarball and of the module.
LARGE = {
    "name": "esbuild.wasm",
    "package": "esbuild-wasm@0.28.2",
    "tarball": "esbuild-wasm-0.28.2.tgz",
    "tarball_sha256": "61594de12ce998652be2aa0ab72dda54bfa49407fb37ee3464468a2aac306baa",
    "member": "package/esbuild.wasm",
    "sha256": "b1831a5c0f6cf688034fb94d0419812f165ea316a3380d3fc00a151e562d2eaf",
}

# Per-process limit: a run that takes longer has hung as far as this suite is concerned.
TIMEOUT_S = 600


class BenchError(Exception):
    """A failure that stops the suite, with a message naming what failed."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def capture(cmd, cwd=None):
    """Output of a short informational command, or None if it cannot run."""
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    return r.stdout.strip()


def first_line(text):
    return text.splitlines()[0].strip() if text else None


class Timed:
    """The outcome of one timed child process."""

    def __init__(self, wall, cpu, returncode, stdout, stderr):
        self.wall = wall
        self.cpu = cpu
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def checksum(self):
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("checksum:"):
                return line.split(":", 1)[1].strip()
        return None


def run_timed(cmd, env=None, cwd=None):
    """Runs cmd to completion: wall time (perf_counter around the whole process) and CPU time
    (user + sys of the child, from RUSAGE_CHILDREN deltas; children run one at a time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, timeout=TIMEOUT_S)
        returncode, stdout, stderr = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        returncode, stdout, stderr = None, e.stdout or b"", (e.stderr or b"") + b"\n(timed out)"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(
        wall,
        cpu,
        returncode,
        stdout.decode("utf-8", "replace"),
        stderr.decode("utf-8", "replace"),
    )


def check_call(cmd, what, env=None, cwd=None):
    """Runs a setup step whose failure stops the suite."""
    r = run_timed(cmd, env=env, cwd=cwd)
    if r.returncode != 0:
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{what} failed (`{' '.join(cmd)}`, status {r.returncode}):\n{tail}")
    return r


def median(xs):
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# ---------------------------------------------------------------------------------------------
# Tools


def cargo_target_dir(cwd):
    meta = capture(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=cwd)
    if meta:
        try:
            return json.loads(meta)["target_directory"]
        except (ValueError, KeyError):
            pass
    return os.path.join(cwd, "target")


def find_kiln(args):
    if args.kiln:
        path = os.path.abspath(args.kiln)
        if not os.access(path, os.X_OK):
            raise BenchError(f"--kiln {args.kiln}: not an executable file")
        return path
    log("building Kiln: cargo build --release -p kiln-cli")
    r = subprocess.run(["cargo", "build", "--release", "-p", "kiln-cli"], cwd=ROOT)
    if r.returncode != 0:
        raise BenchError("cargo build --release -p kiln-cli failed (or pass --kiln PATH)")
    path = os.path.join(cargo_target_dir(ROOT), "release", "kiln")
    if not os.access(path, os.X_OK):
        raise BenchError(f"cargo build succeeded but {path} is missing")
    return path


def find_wasmtime(args):
    candidates = []
    if args.wasmtime:
        candidates.append(("--wasmtime", args.wasmtime))
    elif os.environ.get("WASMTIME"):
        candidates.append(("$WASMTIME", os.environ["WASMTIME"]))
    else:
        candidates.append(("default", os.path.join(BENCH, "peers", ".wasmtime", "bin", "wasmtime")))
    source, path = candidates[0]
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise BenchError(
            f"wasmtime not found at {path} ({source}); run bench/peers/install-wasmtime.sh "
            "or pass --wasmtime PATH"
        )
    version = first_line(capture([path, "--version"]))
    if version is None:
        raise BenchError(f"{path} --version failed")
    if WASMTIME_VERSION not in version:
        log(f"warning: expected Wasmtime {WASMTIME_VERSION} (Cranelift 0.135.8), found {version}")
    return path, version


def find_node(args):
    if not args.node:
        return None, None
    node = shutil.which("node")
    if node is None:
        log("note: --node given but node is not on PATH; skipping the Node peer")
        return None, None
    return node, first_line(capture([node, "--version"]))


def machine_info(kiln, wasmtime_version, node_version):
    lscpu = capture(["lscpu"]) or ""
    model = None
    for line in lscpu.splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    # The commit the kiln binary was built from: that of the checkout it lives in (this one
    # unless --kiln points elsewhere).
    src = os.path.dirname(kiln)
    commit = capture(["git", "rev-parse", "HEAD"], cwd=src)
    kiln_repo = capture(["git", "rev-parse", "--show-toplevel"], cwd=src)
    dirty = capture(["git", "status", "--porcelain", "--untracked-files=no"], cwd=src)
    bench_commit = capture(["git", "rev-parse", "HEAD"], cwd=ROOT)
    return {
        "cpu": model or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "os": first_line(capture(["uname", "-sm"])),
        "rustc": first_line(capture(["rustc", "--version"], cwd=ROOT)),
        "clang": first_line(capture(["clang", "--version"])),
        "kiln": first_line(capture([kiln, "--version"])),
        "wasmtime": wasmtime_version,
        "node": node_version,
        "python": platform.python_version(),
        "kiln_binary": kiln,
        "kiln_repo": kiln_repo,
        "git_commit": commit,
        "git_dirty": bool(dirty),
        "bench_commit": bench_commit,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# Execution


def build_natives(workloads):
    out = os.path.join(WORK, "native")
    os.makedirs(out, exist_ok=True)
    paths = {}
    for w in workloads:
        exe = os.path.join(out, w)
        src = os.path.join(PROGRAMS, w + ".c")
        check_call(["clang", "-O2", "-Wall", "-Werror", "-o", exe, src, "-lm"], f"native build of {w}")
        paths[w] = exe
    return paths


def wasm_path(workload, variant):
    suffix = "" if variant == "scalar" else "-simd"
    path = os.path.join(WASM_DIR, f"{workload}{suffix}.wasm")
    if not os.path.exists(path):
        raise BenchError(f"{path} is missing; run bench/programs/build.sh")
    return path


def kiln_env():
    """Kiln's per-user state (artifact key, compile cache) kept inside bench/.work/."""
    env = dict(os.environ)
    env["KILN_ARTIFACT_KEY"] = os.path.join(WORK, "kiln-artifact.key")
    env["KILN_CACHE_DIR"] = os.path.join(WORK, "kiln-cache")
    return env


def precompile(tools, workloads):
    """Compiles every module once per runtime; returns the commands that run each one."""
    env = kiln_env()
    for d in ("kiln", "wasmtime"):
        os.makedirs(os.path.join(WORK, d), exist_ok=True)
    commands = {}
    for w in workloads:
        for v in VARIANTS:
            wasm = wasm_path(w, v)
            base = os.path.splitext(os.path.basename(wasm))[0]
            kwasm = os.path.join(WORK, "kiln", base + ".kwasm")
            cwasm = os.path.join(WORK, "wasmtime", base + ".cwasm")
            check_call([tools["kiln"], "compile", wasm, "-o", kwasm], f"kiln compile {base}", env=env)
            check_call([tools["wasmtime"], "compile", wasm, "-o", cwasm], f"wasmtime compile {base}")
            cmds = {
                "kiln": ([tools["kiln"], "run", "--cache=off", kwasm], env),
                "wasmtime": ([tools["wasmtime"], "run", "--allow-precompiled", cwasm], None),
            }
            if tools.get("node"):
                cmds["node"] = ([tools["node"], "--no-warnings", NODE_RUNNER, wasm], None)
            commands[(w, v)] = cmds
    return commands


def run_execution(tools, workloads, reps):
    natives = build_natives(workloads)
    log("precompiling the workloads")
    commands = precompile(tools, workloads)

    # One untimed native run per workload: the reference checksum (and warm caches).
    reference = {}
    for w in workloads:
        r = run_timed([natives[w]])
        if r.returncode != 0 or r.checksum() is None:
            raise BenchError(f"native {w} failed (status {r.returncode}): {r.stderr.strip()}")
        reference[w] = r.checksum()

    runtimes = ["kiln", "wasmtime"] + (["node"] if tools.get("node") else [])
    times = {}  # (workload, variant, runtime) -> [seconds]; variant "-" for native
    cpu_times = {}  # the same, user + sys CPU seconds
    failures = []
    node_failed = False
    for rep in range(reps):
        log(f"execution: repetition {rep + 1}/{reps}")
        for w in workloads:
            # Round robin: every runtime once per repetition, in an order that rotates.
            jobs = [("-", "native", ([natives[w]], None))]
            for v in VARIANTS:
                for rt in runtimes:
                    if rt == "node" and node_failed:
                        continue
                    jobs.append((v, rt, commands[(w, v)][rt]))
            shift = rep % len(jobs)
            jobs = jobs[shift:] + jobs[:shift]
            for v, rt, (cmd, env) in jobs:
                r = run_timed(cmd, env=env)
                got = r.checksum()
                if r.returncode != 0 or got != reference[w]:
                    what = (
                        f"status {r.returncode}"
                        if r.returncode != 0
                        else f"checksum {got!r}, native {reference[w]!r}"
                    )
                    if rt == "node":
                        log(f"note: node failed on {w} ({v}): {what}; dropping the Node peer")
                        node_failed = True
                        continue
                    msg = f"{w} ({v}) under {rt}: {what}"
                    log("!" * 72 + f"\nMISMATCH: {msg}\n{r.stderr.strip()[-2000:]}\n" + "!" * 72)
                    failures.append(msg)
                    continue
                times.setdefault((w, v, rt), []).append(r.wall)
                cpu_times.setdefault((w, v, rt), []).append(r.cpu)
                log(f"  {w:14} {v:6} {rt:8} {r.wall:8.3f} s  cpu {r.cpu:8.3f} s")

    rows = []
    for w in workloads:
        native = median(times.get((w, "-", "native"), []))
        for v in VARIANTS:
            row = {
                "workload": w,
                "variant": v,
                "checksum": reference[w],
                "checksum_ok": not any(f.startswith(f"{w} ({v})") for f in failures),
                "native_s": native,
                "native_runs": times.get((w, "-", "native"), []),
                "native_cpu_runs": cpu_times.get((w, "-", "native"), []),
                "native_cpu_s": median(cpu_times.get((w, "-", "native"), [])),
            }
            for rt in runtimes:
                runs = times.get((w, v, rt), [])
                row[f"{rt}_runs"] = runs
                row[f"{rt}_s"] = median(runs)
                row[f"{rt}_cpu_runs"] = cpu_times.get((w, v, rt), [])
                row[f"{rt}_cpu_s"] = median(row[f"{rt}_cpu_runs"])
            row["kiln_over_wasmtime"] = ratio(row["kiln_s"], row["wasmtime_s"])
            row["kiln_over_wasmtime_cpu"] = ratio(row["kiln_cpu_s"], row["wasmtime_cpu_s"])
            row["kiln_over_native"] = ratio(row["kiln_s"], native)
            row["wasmtime_over_native"] = ratio(row["wasmtime_s"], native)
            if "node" in runtimes:
                row["node_over_native"] = ratio(row.get("node_s"), native)
            rows.append(row)

    summary = {}
    for scope in ["all"] + VARIANTS:
        sel = [r for r in rows if scope == "all" or r["variant"] == scope]
        kw = [(r["kiln_over_wasmtime"], r) for r in sel if r["kiln_over_wasmtime"] is not None]
        worst = max(kw, key=lambda x: x[0]) if kw else None
        summary[scope] = {
            "geomean_kiln_over_wasmtime": geomean([r["kiln_over_wasmtime"] for r in sel]),
            "geomean_kiln_over_wasmtime_cpu": geomean([r.get("kiln_over_wasmtime_cpu") for r in sel]),
            "geomean_kiln_over_native": geomean([r["kiln_over_native"] for r in sel]),
            "geomean_wasmtime_over_native": geomean([r["wasmtime_over_native"] for r in sel]),
            "worst_kiln_over_wasmtime": worst[0] if worst else None,
            "worst": f"{worst[1]['workload']} ({worst[1]['variant']})" if worst else None,
        }
    return {
        "reps": reps,
        "runtimes": runtimes,
        "node_dropped": node_failed,
        "rows": rows,
        "summary": summary,
        "failures": failures,
    }


# ---------------------------------------------------------------------------------------------
# Compile


def fetch_large_module():
    """esbuild.wasm from the pinned npm tarball (cached in bench/.work/), verified; None and a
    reason if it cannot be had."""
    dest = os.path.join(WORK, "large")
    os.makedirs(dest, exist_ok=True)
    wasm = os.path.join(dest, LARGE["name"])
    if os.path.exists(wasm) and sha256_file(wasm) == LARGE["sha256"]:
        return wasm, None
    tgz = os.path.join(dest, LARGE["tarball"])
    if not os.path.exists(tgz):
        if shutil.which("npm") is None:
            return None, "npm is not installed"
        log(f"fetching {LARGE['package']} with npm pack")
        r = run_timed(["npm", "pack", LARGE["package"], "--pack-destination", dest])
        if r.returncode != 0 or not os.path.exists(tgz):
            return None, f"npm pack {LARGE['package']} failed: {r.stderr.strip()[-500:]}"
    got = sha256_file(tgz)
    if got != LARGE["tarball_sha256"]:
        os.remove(tgz)
        return None, f"{LARGE['tarball']} has SHA-256 {got}, expected {LARGE['tarball_sha256']}"
    with tarfile.open(tgz) as tar:
        member = tar.getmember(LARGE["member"])
        src = tar.extractfile(member)
        if src is None:
            return None, f"{LARGE['member']} is not a file in {LARGE['tarball']}"
        with open(wasm + ".tmp", "wb") as f:
            shutil.copyfileobj(src, f)
    os.replace(wasm + ".tmp", wasm)
    got = sha256_file(wasm)
    if got != LARGE["sha256"]:
        return None, f"{LARGE['member']} has SHA-256 {got}, expected {LARGE['sha256']}"
    return wasm, None


def generated_large_module():
    """Fallback: the generated multi-MB module of benches/cache.py."""
    spec = importlib.util.spec_from_file_location("cache_bench", os.path.join(ROOT, "benches", "cache.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    path = os.path.join(WORK, "large", "generated.wasm")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(mod.module(12000))
    return path


def compile_commands(tools, wasm, out_dir):
    base = os.path.splitext(os.path.basename(wasm))[0]
    return {
        "kiln": (
            [tools["kiln"], "compile", "-C", "cache=n", wasm, "-o", os.path.join(out_dir, base + ".kwasm")],
            kiln_env(),
        ),
        "wasmtime": (
            [tools["wasmtime"], "compile", "-C", "cache=n", wasm, "-o", os.path.join(out_dir, base + ".cwasm")],
            None,
        ),
    }


def time_compiles(tools, modules, reps):
    """modules: [(label, kind, path)]. Runs both compilers alternately, reps times."""
    out_dir = os.path.join(WORK, "compile")
    os.makedirs(out_dir, exist_ok=True)
    samples = {}
    errors = {}
    for rep in range(reps):
        for label, kind, wasm in modules:
            cmds = compile_commands(tools, wasm, out_dir)
            order = ["kiln", "wasmtime"] if rep % 2 == 0 else ["wasmtime", "kiln"]
            for rt in order:
                if (label, rt) in errors:
                    continue
                cmd, env = cmds[rt]
                r = run_timed(cmd, env=env)
                if r.returncode != 0:
                    msg = (r.stderr or r.stdout).strip()[-1500:]
                    errors[(label, rt)] = msg
                    log(f"compile of {label} under {rt} failed (status {r.returncode}):\n{msg}")
                    continue
                samples.setdefault((label, rt), []).append((r.wall, r.cpu))
                log(f"  compile {label:22} {rt:8} wall {r.wall:7.3f} s  cpu {r.cpu:7.3f} s")
    rows = []
    for label, kind, wasm in modules:
        row = {"module": label, "kind": kind, "bytes": os.path.getsize(wasm)}
        for rt in ("kiln", "wasmtime"):
            s = samples.get((label, rt), [])
            row[f"{rt}_wall_runs"] = [x[0] for x in s]
            row[f"{rt}_cpu_runs"] = [x[1] for x in s]
            row[f"{rt}_wall_s"] = median([x[0] for x in s])
            row[f"{rt}_cpu_s"] = median([x[1] for x in s])
            row[f"{rt}_error"] = errors.get((label, rt))
        row["wall_ratio"] = ratio(row["kiln_wall_s"], row["wasmtime_wall_s"])
        row["cpu_ratio"] = ratio(row["kiln_cpu_s"], row["wasmtime_cpu_s"])
        rows.append(row)
    return rows


def run_compile(tools, workloads, reps, large_reps, with_large):
    modules = []
    for w in workloads:
        for v in VARIANTS:
            path = wasm_path(w, v)
            modules.append((os.path.splitext(os.path.basename(path))[0], "workload", path))
    log(f"compile: {len(modules)} workload modules, {reps} repetitions")
    rows = time_compiles(tools, modules, reps)
    suite = [r for r in rows if r["kind"] == "workload"]
    total = {}
    for rt in ("kiln", "wasmtime"):
        for m in ("wall", "cpu"):
            vals = [r[f"{rt}_{m}_s"] for r in suite]
            total[f"{rt}_{m}_s"] = sum(vals) if vals and None not in vals else None
    total["wall_ratio"] = ratio(total["kiln_wall_s"], total["wasmtime_wall_s"])
    total["cpu_ratio"] = ratio(total["kiln_cpu_s"], total["wasmtime_cpu_s"])

    large = None
    large_note = None
    if with_large:
        path, why = fetch_large_module()
        label = "esbuild.wasm"
        if path is None:
            large_note = f"esbuild.wasm unavailable ({why}); used the generated module of benches/cache.py"
            log("note: " + large_note)
            path = generated_large_module()
            label = "generated (benches/cache.py)"
        else:
            large_note = f"{LARGE['member']} of npm {LARGE['package']} (SHA-256 {LARGE['sha256'][:16]}...)"
        log(f"compile: large module {label}, {large_reps} repetitions")
        large = time_compiles(tools, [(label, "large", path)], large_reps)[0]
    return {"reps": reps, "large_reps": large_reps, "rows": rows, "total": total, "large": large, "large_note": large_note}


# ---------------------------------------------------------------------------------------------
# Micro benchmarks (criterion)


def criterion_estimates(target_dir, groups, since):
    """{full bench id: median ns} for the benches of `groups` whose estimates were written at or
    after `since` (older files belong to an earlier run and are ignored)."""
    found = {}
    base = os.path.join(target_dir, "criterion")
    for bench_json in glob.glob(os.path.join(base, "**", "new", "benchmark.json"), recursive=True):
        estimates = os.path.join(os.path.dirname(bench_json), "estimates.json")
        try:
            if os.path.getmtime(estimates) < since:
                continue
            with open(bench_json) as f:
                meta = json.load(f)
            with open(estimates) as f:
                est = json.load(f)
        except (OSError, ValueError):
            continue
        if meta.get("group_id") not in groups:
            continue
        full_id = meta.get("full_id") or "/".join(
            x for x in (meta.get("group_id"), meta.get("function_id"), meta.get("value_str")) if x
        )
        try:
            found[full_id] = float(est["median"]["point_estimate"])
        except (KeyError, TypeError, ValueError):
            continue
    return found


def run_micro(skip):
    groups = {"instantiate", "calls"}
    result = {"kiln": {}, "wasmtime": {}, "notes": [], "host_calls_per_loop": host_calls_per_loop()}
    if skip:
        result["notes"].append("micro benchmarks skipped (--skip-micro)")
        return result
    # Kiln: the root package's benches, if they exist yet.
    manifest = open(os.path.join(ROOT, "Cargo.toml")).read()
    kiln_benches = [b for b in ("instantiate", "calls") if f'name = "{b}"' in manifest]
    if kiln_benches:
        since = time.time() - 1
        cmd = ["cargo", "bench"] + [x for b in kiln_benches for x in ("--bench", b)]
        log("micro: " + " ".join(cmd))
        r = subprocess.run(cmd, cwd=ROOT)
        if r.returncode != 0:
            result["notes"].append(f"`{' '.join(cmd)}` failed with status {r.returncode}")
        result["kiln"] = criterion_estimates(cargo_target_dir(ROOT), groups, since)
    else:
        result["notes"].append("Kiln's benches/instantiate.rs and benches/calls.rs are not in Cargo.toml yet")
    if os.path.exists(os.path.join(WASMTIME_BENCH, "Cargo.toml")):
        # Both sides write target/criterion/<group>/...: they need different target dirs (a
        # shared $CARGO_TARGET_DIR would make one overwrite the other).
        env = dict(os.environ)
        target = cargo_target_dir(WASMTIME_BENCH)
        if os.path.realpath(target) == os.path.realpath(cargo_target_dir(ROOT)):
            target = os.path.join(WASMTIME_BENCH, "target")
            env["CARGO_TARGET_DIR"] = target
        since = time.time() - 1
        log("micro: cargo bench (bench/peers/wasmtime-bench)")
        r = subprocess.run(["cargo", "bench"], cwd=WASMTIME_BENCH, env=env)
        if r.returncode != 0:
            result["notes"].append(f"`cargo bench` in bench/peers/wasmtime-bench failed with status {r.returncode}")
        result["wasmtime"] = criterion_estimates(target, groups, since)
    else:
        result["notes"].append("bench/peers/wasmtime-bench is missing")
    return result


# ---------------------------------------------------------------------------------------------
# Report


def fmt_s(x):
    return "—" if x is None else f"{x:.3f}"


def fmt_r(x):
    return "—" if x is None else f"{x:.2f}"


def fmt_ns(x):
    if x is None:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} ms"
    if x >= 1e3:
        return f"{x / 1e3:.2f} µs"
    return f"{x:.1f} ns"


def fmt_bytes(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def machine_section(res):
    m = res["machine"]
    load = res.get("load")
    lines = [
        f"- Command: `{res.get('command', 'python3 bench/run.py')}`",
        f"- CPU: {m['cpu']}, {m['cores']} logical cores; Linux {m['kernel']}",
        f"- Kiln: {m['kiln']} built from commit `{(m['git_commit'] or '?')[:12]}`"
        + (" with uncommitted changes" if m.get("git_dirty") else "")
        + f"; suite at commit `{(m.get('bench_commit') or '?')[:12]}`",
        f"- Wasmtime: {m['wasmtime']}",
    ]
    if m.get("node"):
        lines.append(f"- Node: {m['node']} (`node:wasi`)")
    lines += [
        f"- {m['rustc']}; {m['clang']}",
        f"- Run on {m['date']}, took {res['duration_s'] / 60:.1f} minutes",
    ]
    if load:
        lines.append(
            "- Load average (1, 5, 15 min) at start: "
            + ", ".join(f"{x:.2f}" for x in load["start"])
            + "; at end: "
            + ", ".join(f"{x:.2f}" for x in load["end"])
        )
    return "\n".join(lines)


def exec_section(ex):
    if not ex:
        return "Not run (`--skip-exec`)."
    node = "node" in ex["runtimes"]
    header = ["workload", "variant", "native s", "kiln s", "wasmtime s"]
    header += ["node s"] if node else []
    header += ["kiln/wasmtime", "kiln/native", "wasmtime/native", "kiln/wasmtime CPU", "checksum"]
    rows = []
    for r in ex["rows"]:
        row = [r["workload"], r["variant"], fmt_s(r["native_s"]), fmt_s(r["kiln_s"]), fmt_s(r["wasmtime_s"])]
        row += [fmt_s(r.get("node_s"))] if node else []
        row += [
            fmt_r(r["kiln_over_wasmtime"]),
            fmt_r(r["kiln_over_native"]),
            fmt_r(r["wasmtime_over_native"]),
            fmt_r(r.get("kiln_over_wasmtime_cpu")),
            "ok" if r["checksum_ok"] else "**MISMATCH**",
        ]
        rows.append(row)
    for scope in ["all"] + VARIANTS:
        s = ex["summary"][scope]
        label = "**geomean**" if scope == "all" else f"geomean ({scope})"
        row = [label, "", "", "", ""] + ([""] if node else [])
        row += [
            fmt_r(s["geomean_kiln_over_wasmtime"]),
            fmt_r(s["geomean_kiln_over_native"]),
            fmt_r(s["geomean_wasmtime_over_native"]),
            fmt_r(s.get("geomean_kiln_over_wasmtime_cpu")),
            "",
        ]
        rows.append(row)
    s = ex["summary"]["all"]
    text = table(header, rows)
    text += (
        f"\n\nMedian of {ex['reps']} runs each. Worst kiln/wasmtime: "
        f"{fmt_r(s['worst_kiln_over_wasmtime'])} ({s['worst'] or '—'})."
    )
    spreads = []
    for r in ex["rows"]:
        for rt in ex["runtimes"]:
            runs = r.get(f"{rt}_runs") or []
            if len(runs) > 1:
                spreads.append((max(runs) - min(runs)) / statistics.median(runs))
    if spreads:
        text += (
            " Noise: the spread of one runtime's runs of one module (max − min, over the median) "
            f"is {statistics.median(spreads) * 100:.0f}% in the median case and "
            f"{max(spreads) * 100:.0f}% at worst in this run; the raw times are in "
            "`bench/results/latest.json`."
        )
    if ex["failures"]:
        text += "\n\n**Failures:**\n\n" + "\n".join(f"- {f}" for f in ex["failures"])
    if ex.get("node_dropped"):
        text += "\n\nNode failed on a workload and was dropped from the rest of the run."
    sums = {}
    for r in ex["rows"]:
        sums[r["workload"]] = r["checksum"]
    text += "\n\nChecksums (native; every wasm run printed the same unless marked above):\n\n"
    text += table(["workload", "checksum"], [[w, f"`{c}`"] for w, c in sums.items()])
    return text


def compile_section(co):
    if not co:
        return "Not run (`--skip-compile`)."
    header = ["module", "size", "kiln wall s", "wasmtime wall s", "wall ratio", "kiln CPU s", "wasmtime CPU s", "CPU ratio"]

    def line(r, name):
        err = ""
        for rt in ("kiln", "wasmtime"):
            if r.get(f"{rt}_error"):
                err += f" ({rt} failed)"
        return [
            name + err,
            fmt_bytes(r["bytes"]),
            fmt_s(r["kiln_wall_s"]),
            fmt_s(r["wasmtime_wall_s"]),
            fmt_r(r["wall_ratio"]),
            fmt_s(r["kiln_cpu_s"]),
            fmt_s(r["wasmtime_cpu_s"]),
            fmt_r(r["cpu_ratio"]),
        ]

    rows = [line(r, r["module"]) for r in co["rows"]]
    t = co["total"]
    rows.append(line({**t, "bytes": sum(r["bytes"] for r in co["rows"])}, "**suite total**"))
    if co.get("large"):
        rows.append(line(co["large"], "**" + co["large"]["module"] + "**"))
    text = table(header, rows)
    text += f"\n\nMedian of {co['reps']} compiles per workload module"
    if co.get("large"):
        text += f" and {co['large_reps']} of the large module"
    text += "."
    if co.get("large_note"):
        text += f" Large module: {co['large_note']}."
    errs = []
    for r in co["rows"] + ([co["large"]] if co.get("large") else []):
        for rt in ("kiln", "wasmtime"):
            if r.get(f"{rt}_error"):
                first = r[f"{rt}_error"].strip().splitlines()
                errs.append(f"- {r['module']} under {rt}: `{first[-1] if first else '?'}`")
    if errs:
        text += "\n\nCompile failures:\n\n" + "\n".join(errs)
    return text


def micro_section(micro, group, ids):
    """A table of the criterion medians of `group`, the expected ids first (a missing one shows
    "—"), then any others that reported. wasm→host loops are shown per host call."""
    kiln = micro.get("kiln", {})
    wt = micro.get("wasmtime", {})
    per_loop = micro.get("host_calls_per_loop")
    found = {k for k in list(kiln) + list(wt) if k.startswith(group + "/")}
    order = [f"{group}/{i}" for i in ids]
    keys = order + sorted(k for k in found if k not in order)
    rows = []
    for k in keys:
        a, b = kiln.get(k), wt.get(k)
        name = k.split("/", 1)[1]
        if name.startswith("wasm_to_host/") and per_loop:
            a = a / per_loop if a is not None else None
            b = b / per_loop if b is not None else None
            name += f" (per call; {per_loop} per iteration)"
        rows.append([name, fmt_ns(a), fmt_ns(b), fmt_r(ratio(a, b))])
    return table(["bench", "kiln", "wasmtime", "kiln/wasmtime"], rows)


def host_calls_per_loop():
    """HOST_CALLS_PER_LOOP of benches/common/modules.rs (how many host calls one iteration of a
    wasm_to_host bench makes), or None."""
    try:
        with open(os.path.join(ROOT, "benches", "common", "modules.rs")) as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r"HOST_CALLS_PER_LOOP\s*:\s*i32\s*=\s*(\d+)", text)
    return int(m.group(1)) if m else None


INSTANTIATE_IDS = [
    f"{m}/{s}/{t}"
    for m in ("empty", "data_1mib", "wasi_hello")
    for s in ("on-demand", "pooled")
    for t in ("1-thread", "2-threads")
]
CALL_IDS = ["host_to_wasm/typed", "host_to_wasm/dynamic", "wasm_to_host/typed", "wasm_to_host/dynamic"]


def chart_svg(ex):
    """Grouped bars per workload: kiln/wasmtime and kiln/native, scalar and simd, with a line at
    1.0. Plain SVG text."""
    series = [
        ("kiln_over_wasmtime", "scalar", "kiln/wasmtime (scalar)", "#1f5fa8"),
        ("kiln_over_wasmtime", "simd", "kiln/wasmtime (simd)", "#7eaedf"),
        ("kiln_over_native", "scalar", "kiln/native (scalar)", "#c0622a"),
        ("kiln_over_native", "simd", "kiln/native (simd)", "#eeb08a"),
    ]
    by = {(r["workload"], r["variant"]): r for r in ex["rows"]}
    workloads = list(dict.fromkeys(r["workload"] for r in ex["rows"]))
    values = [by[(w, v)][key] for w in workloads for key, v, _, _ in series if (w, v) in by]
    top = max([v for v in values if v is not None] + [1.0])
    step = 0.25 if top <= 1.5 else 0.5 if top <= 3 else 1.0
    ymax = math.ceil(top * 1.05 / step) * step

    bar, gap, group_gap = 12, 2, 22
    group_w = len(series) * (bar + gap) - gap
    left, right, top_m, bottom = 52, 16, 54, 70
    plot_h = 260
    # At least wide enough for the title and the legend.
    width = max(left + right + len(workloads) * (group_w + group_gap), 740)
    height = top_m + plot_h + bottom

    def y(v):
        return top_m + plot_h - v / ymax * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">Execution time ratios per workload '
        f"(median wall time; lower is better)</text>",
    ]
    # Legend.
    lx = left
    for _, _, name, color in series:
        out.append(f'<rect x="{lx}" y="26" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="35">{name}</text>')
        lx += 14 + 7 * len(name) + 14
    # Grid and axis.
    v = 0.0
    while v <= ymax + 1e-9:
        yy = y(v)
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:.2f}</text>')
        v += step
    out.append(f'<line x1="{left}" y1="{top_m}" x2="{left}" y2="{top_m + plot_h}" stroke="#444"/>')
    # Bars.
    for i, w in enumerate(workloads):
        gx = left + group_gap / 2 + i * (group_w + group_gap)
        for j, (key, variant, name, color) in enumerate(series):
            r = by.get((w, variant))
            val = r[key] if r else None
            if val is None:
                continue
            x = gx + j * (bar + gap)
            out.append(
                f'<rect x="{x:.1f}" y="{y(val):.1f}" width="{bar}" height="{top_m + plot_h - y(val):.1f}" '
                f'fill="{color}"><title>{w} {name}: {val:.2f}</title></rect>'
            )
        cx = gx + group_w / 2
        ly = top_m + plot_h + 12
        out.append(
            f'<text x="{cx:.1f}" y="{ly}" text-anchor="end" transform="rotate(-35 {cx:.1f} {ly})">{w}</text>'
        )
    one = y(1.0)
    out.append(
        f'<line x1="{left}" y1="{one:.1f}" x2="{width - right}" y2="{one:.1f}" stroke="#c00" '
        f'stroke-width="1.5" stroke-dasharray="6 3"/>'
    )
    out.append(f'<text x="{width - right}" y="{one - 4:.1f}" text-anchor="end" fill="#c00">1.0</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_report(res):
    with open(TEMPLATE) as f:
        template = f.read()
    micro = res.get("micro") or {"kiln": {}, "wasmtime": {}, "notes": ["not run"]}
    notes = micro.get("notes") or []
    micro_note = ""
    if notes:
        micro_note = "\n\n" + "\n".join(f"Note: {n}." for n in notes)
    parts = {
        "machine": machine_section(res),
        "execution": exec_section(res.get("execution")),
        "chart": "![execution ratios](performance-exec.svg)" if res.get("execution") else "",
        "compile": compile_section(res.get("compile")),
        "instantiate": micro_section(micro, "instantiate", INSTANTIATE_IDS) + micro_note,
        "calls": micro_section(micro, "calls", CALL_IDS) + micro_note,
    }
    text = template
    for key, value in parts.items():
        text = text.replace("{{" + key + "}}", value)
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as f:
        f.write(text)
    if res.get("execution"):
        with open(CHART, "w") as f:
            f.write(chart_svg(res["execution"]))
    log(f"wrote {os.path.relpath(REPORT, ROOT)}")


# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Kiln's benchmark suite: execution, compile and micro benchmarks beside "
        "Wasmtime and native code; writes bench/results/latest.json and docs/performance.md."
    )
    p.add_argument("--reps", type=int, default=5, help="execution repetitions (default 5)")
    p.add_argument("--compile-reps", type=int, default=5, help="compiles per workload module (default 5)")
    p.add_argument("--large-reps", type=int, default=5, help="compiles of the large module (default 5)")
    p.add_argument("--only", help="comma-separated workloads (default: all ten)")
    p.add_argument("--quick", action="store_true",
                   help="1 repetition of everything, workloads fib,nbody,sha256 (unless --only), "
                   "no large module, no micro benchmarks")
    p.add_argument("--skip-exec", action="store_true", help="skip the execution benchmarks")
    p.add_argument("--skip-compile", action="store_true", help="skip the compile benchmarks")
    p.add_argument("--skip-large", action="store_true", help="skip the large-module compile")
    p.add_argument("--skip-micro", action="store_true", help="skip the criterion micro benchmarks")
    p.add_argument("--kiln", help="use this kiln binary instead of building one")
    p.add_argument("--wasmtime", help="the wasmtime CLI (default: $WASMTIME, else bench/peers/.wasmtime/bin/wasmtime)")
    p.add_argument("--node", action="store_true", help="also run the workloads under Node's node:wasi")
    p.add_argument("--no-report", action="store_true",
                   help="write the results to bench/.work/run.json only, not latest.json or docs/")
    p.add_argument("--report-only", action="store_true",
                   help="regenerate docs/performance.md and the chart from bench/results/latest.json")
    args = p.parse_args(argv)
    if args.quick:
        args.reps = args.compile_reps = args.large_reps = 1
        args.skip_large = args.skip_micro = True
    if min(args.reps, args.compile_reps, args.large_reps) < 1:
        p.error("repetition counts must be at least 1")
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in WORKLOADS]
        if unknown:
            p.error(f"--only: unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
        args.workloads = names
    else:
        args.workloads = QUICK_WORKLOADS if args.quick else WORKLOADS
    return args


def main(argv):
    args = parse_args(argv)
    if args.report_only:
        with open(RESULTS) as f:
            write_report(json.load(f))
        return 0
    started = time.perf_counter()
    load_start = loadavg()
    os.makedirs(WORK, exist_ok=True)
    kiln = find_kiln(args)
    wasmtime, wasmtime_version = find_wasmtime(args)
    node, node_version = find_node(args)
    tools = {"kiln": kiln, "wasmtime": wasmtime, "node": node}
    log(f"kiln: {kiln}\nwasmtime: {wasmtime} ({wasmtime_version})" + (f"\nnode: {node} ({node_version})" if node else ""))

    res = {
        "command": "python3 bench/run.py" + ("" if not argv else " " + " ".join(argv)),
        "machine": machine_info(kiln, wasmtime_version, node_version),
        "workloads": {
            w: {v: sha256_file(wasm_path(w, v)) for v in VARIANTS} for w in args.workloads
        },
    }
    res["execution"] = None if args.skip_exec else run_execution(tools, args.workloads, args.reps)
    res["compile"] = (
        None
        if args.skip_compile
        else run_compile(tools, args.workloads, args.compile_reps, args.large_reps, not args.skip_large)
    )
    res["micro"] = run_micro(args.skip_micro)
    res["duration_s"] = time.perf_counter() - started
    res["load"] = {"start": load_start, "end": loadavg()}

    out = os.path.join(WORK, "run.json") if args.no_report else RESULTS
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
    log(f"wrote {os.path.relpath(out, ROOT)}")
    if not args.no_report:
        write_report(res)
    print_summary(res)
    failed = bool(res["execution"] and res["execution"]["failures"])
    if failed:
        log("FAILED: some runs did not print the native checksum (see above)")
    return 1 if failed else 0


def print_summary(res):
    ex = res.get("execution")
    if ex:
        print(f"{'workload':14} {'variant':7} {'native':>8} {'kiln':>8} {'wasmtime':>9} {'k/w':>6} {'k/n':>6} {'w/n':>6}")
        for r in ex["rows"]:
            print(
                f"{r['workload']:14} {r['variant']:7} {fmt_s(r['native_s']):>8} {fmt_s(r['kiln_s']):>8} "
                f"{fmt_s(r['wasmtime_s']):>9} {fmt_r(r['kiln_over_wasmtime']):>6} "
                f"{fmt_r(r['kiln_over_native']):>6} {fmt_r(r['wasmtime_over_native']):>6}"
                + ("" if r["checksum_ok"] else "  MISMATCH")
            )
        s = ex["summary"]["all"]
        print(
            f"geomean kiln/wasmtime {fmt_r(s['geomean_kiln_over_wasmtime'])}, kiln/native "
            f"{fmt_r(s['geomean_kiln_over_native'])}; worst kiln/wasmtime {fmt_r(s['worst_kiln_over_wasmtime'])} ({s['worst']})"
        )
    co = res.get("compile")
    if co:
        t = co["total"]
        print(
            f"compile suite total: kiln wall {fmt_s(t['kiln_wall_s'])} s cpu {fmt_s(t['kiln_cpu_s'])} s; "
            f"wasmtime wall {fmt_s(t['wasmtime_wall_s'])} s cpu {fmt_s(t['wasmtime_cpu_s'])} s; "
            f"ratio wall {fmt_r(t['wall_ratio'])} cpu {fmt_r(t['cpu_ratio'])}"
        )
        lg = co.get("large")
        if lg:
            print(
                f"compile {lg['module']}: kiln wall {fmt_s(lg['kiln_wall_s'])} s cpu {fmt_s(lg['kiln_cpu_s'])} s; "
                f"wasmtime wall {fmt_s(lg['wasmtime_wall_s'])} s cpu {fmt_s(lg['wasmtime_cpu_s'])} s; "
                f"ratio wall {fmt_r(lg['wall_ratio'])} cpu {fmt_r(lg['cpu_ratio'])}"
            )
    print(f"took {res['duration_s'] / 60:.1f} minutes")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(2)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
