// docs/errors.md is the operator's list of every stable error code: what it means, what
// the client or CLI user sees, what to do. It is only worth reading if it is complete and
// current, so this test ties it to the sources: every `ERR_*` string literal in
// packages/*/src must have a row in one of its tables, and every code the document names
// must still exist in the sources.
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const packagesDir = join(root, 'packages');
const docPath = join(root, 'docs', 'errors.md');

/** A whole string literal that is a code: 'ERR_X', "ERR_X" or `ERR_X`. */
const CODE_LITERAL = /(['"`])(ERR_[A-Z0-9_]+)\1/g;
/** A table row whose first cell is the code: | `ERR_X` | … */
const DOC_ROW = /^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|/gm;
/** Any code named anywhere in the document; `ERR_BACKEND_*` names a family of codes. */
const DOC_MENTION = /\bERR_[A-Z0-9_]+\*?/g;

function sourceFiles(): string[] {
  const files: string[] = [];
  for (const pkg of readdirSync(packagesDir)) {
    const src = join(packagesDir, pkg, 'src');
    let isDir = false;
    try {
      isDir = statSync(src).isDirectory();
    } catch {
      continue;
    }
    if (!isDir) continue;
    for (const entry of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
      if (entry.endsWith('.ts') && !entry.split(/[\\/]/).includes('node_modules')) files.push(join(src, entry));
    }
  }
  return files.sort();
}

/** Code → files (relative to the repository) where it appears as a string literal. */
function codesInSources(): Map<string, string[]> {
  const codes = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    for (const m of readFileSync(file, 'utf8').matchAll(CODE_LITERAL)) {
      const code = m[2] as string;
      const where = codes.get(code) ?? [];
      const rel = relative(root, file);
      if (!where.includes(rel)) where.push(rel);
      codes.set(code, where);
    }
  }
  return codes;
}

const doc = readFileSync(docPath, 'utf8');
const rows = [...doc.matchAll(DOC_ROW)].map((m) => m[1] as string);
const documented = new Set(rows);
const mentioned = new Set([...doc.matchAll(DOC_MENTION)].map((m) => m[0]));
const inSources = codesInSources();

t.test('errors doc: the scan of packages/*/src finds the codes (a broken scan must not pass)', async (t) => {
  t.ok(inSources.size >= 10, `found ${inSources.size} codes`);
  for (const known of ['ERR_USAGE', 'ERR_DIRECTORY_UNAVAILABLE', 'ERR_BACKEND_UNAVAILABLE', 'ERR_LINE_TOO_LONG']) {
    t.ok(inSources.has(known), `${known} is found in the sources`);
  }
  t.ok(documented.size >= 10, `docs/errors.md has ${documented.size} code rows`);
});

t.test('errors doc: every ERR_* code in the sources has a row in docs/errors.md', async (t) => {
  const missing = [...inSources.keys()]
    .filter((code) => !documented.has(code))
    .sort()
    .map((code) => `${code} (${(inSources.get(code) ?? []).join(', ')})`);
  t.same(missing, [], 'add a table row "| `ERR_…` | meaning | what the client sees | what the operator does |"');
});

t.test('errors doc: every code docs/errors.md names still exists in the sources', async (t) => {
  const exists = (name: string): boolean =>
    name.endsWith('*') ? [...inSources.keys()].some((code) => code.startsWith(name.slice(0, -1))) : inSources.has(name);
  const stale = [...mentioned].filter((name) => !exists(name)).sort();
  t.same(stale, [], 'remove or rename these codes in docs/errors.md');
});

t.test('errors doc: each code has exactly one row', async (t) => {
  const twice = rows.filter((code, i) => rows.indexOf(code) !== i);
  t.same(twice, [], 'codes with more than one row');
});
