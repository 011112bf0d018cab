// Parses every .ps1 / .psm1 / .psd1 file of the repository with the tree-sitter PowerShell grammar
// (its WebAssembly build: no native compiler needed) and fails when any parse tree holds an ERROR or
// MISSING node, printing file:line:column for each.
//
//   npm ci --prefix .ci --ignore-scripts --legacy-peer-deps && node .ci/check-powershell-syntax.mjs [root]
//
// The grammar is not PowerShell's own parser: it has false positives (a parameter named like an operator,
// e.g. -Split, is read as the operator), so code is written to avoid those rather than the check relaxed.
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Language, Parser } from 'web-tree-sitter';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.argv[2] ?? path.join(here, '..'));
const skipDirs = new Set(['.git', 'node_modules', 'bin', 'obj', 'out', 'TestResults']);
const extensions = new Set(['.ps1', '.psm1', '.psd1']);

async function* powershellFiles(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skipDirs.has(entry.name)) yield* powershellFiles(full);
    } else if (extensions.has(path.extname(entry.name).toLowerCase())) {
      yield full;
    }
  }
}

// Every ERROR or MISSING node below `node` (a MISSING node is one the parser invented to recover).
function* problems(node) {
  if (node.isError || node.isMissing) {
    yield node;
    if (node.isMissing) return;
  }
  if (!node.hasError && !node.isError) return; // no problem anywhere below
  for (const child of node.children) yield* problems(child);
}

const require = createRequire(import.meta.url);
const wasm = require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm');
await Parser.init();
const parser = new Parser();
parser.setLanguage(await Language.load(wasm));

let files = 0;
let failures = 0;
for await (const file of powershellFiles(root)) {
  files++;
  const source = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  const tree = parser.parse(source);
  const rel = path.relative(root, file);
  for (const node of problems(tree.rootNode)) {
    failures++;
    const { row, column } = node.startPosition;
    const what = node.isMissing ? `MISSING ${node.type}` : 'ERROR';
    const text = source.slice(node.startIndex, Math.min(node.endIndex, node.startIndex + 60)).split('\n')[0];
    console.error(`${rel}:${row + 1}:${column + 1}: ${what} near '${text}'`);
  }
  tree.delete();
}

if (files === 0) {
  console.error(`No .ps1/.psm1/.psd1 files found under ${root}.`);
  process.exit(1);
}
console.log(`${files} PowerShell file(s) parsed, ${failures} problem(s).`);
process.exit(failures === 0 ? 0 : 1);
