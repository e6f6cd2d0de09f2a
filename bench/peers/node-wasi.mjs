// Runs a WASI preview1 command module under Node's `node:wasi` (the optional third peer of
// bench/run.py): node --no-warnings bench/peers/node-wasi.mjs MODULE.wasm [ARGS...]
// The module gets its arguments, no environment and no preopened directories; its exit code
// becomes the process's.
import { readFile } from "node:fs/promises";
import process from "node:process";
import { WASI } from "node:wasi";

const [path, ...args] = process.argv.slice(2);
if (!path) {
  console.error("usage: node node-wasi.mjs MODULE.wasm [ARGS...]");
  process.exit(2);
}
const wasi = new WASI({ version: "preview1", args: [path, ...args], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(path));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
