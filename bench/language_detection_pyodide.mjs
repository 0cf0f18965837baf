// The language detector's CPU in Pyodide 314 (npm `pyodide`, the Python the production runtime
// selects), where the clock runs (inside workerd it stands still while a request runs): runs
// bench/language_detection.py --cpu there, on this checkout's src/ (or --src DIR).
//
//   node bench/language_detection_pyodide.mjs [--src DIR]

import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const src = argv.includes("--src") ? path.resolve(argv[argv.indexOf("--src") + 1]) : path.join(ROOT, "src");
const pyodide = await loadPyodide();
for (const dir of [ROOT, src]) {
  pyodide.FS.mkdirTree(dir);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: dir }, dir);
}
pyodide.globals.set("ARGV", ["bench/language_detection.py", "--cpu", "--src", src]);
pyodide.globals.set("SCRIPT", path.join(ROOT, "bench/language_detection.py"));
await pyodide.runPythonAsync(`
import runpy, sys
sys.argv = list(ARGV)
runpy.run_path(SCRIPT, run_name="__main__")
`);
