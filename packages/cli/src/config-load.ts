// Reads and validates the YAML config once at start. Every problem is reported at once,
// each with its key path and line, so an operator fixes the file in one pass.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { configSchema, type GatehouseConfig } from './config-schema.ts';
import { CliError } from './cli-error.ts';

export interface ConfigProblem {
  path: string;
  line: number | null;
  message: string;
}

export function parseConfig(text: string, source: string): GatehouseConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({ path: '', line: e.linePos?.[0]?.line ?? null, message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '') }));
    throw configError(source, problems);
  }
  const parsed = configSchema.safeParse(doc.toJS() ?? {});
  if (parsed.success) return deepFreeze(parsed.data);
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.map(String);
    return { path: path.join('.'), line: lineOf(doc, lineCounter, issue.path as Array<string | number>), message: issue.message };
  });
  throw configError(source, problems);
}

export function loadConfig(file: string): GatehouseConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError('ERR_CONFIG', `cannot read config ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, file);
}

function lineOf(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: Array<string | number>): number | null {
  // Walk up to the nearest node that exists (a missing key is reported at its parent).
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return lc.linePos(node.range[0]).line;
  }
  return null;
}

function configError(source: string, problems: ConfigProblem[]): CliError {
  const lines = problems.map((p) => `  ${source}${p.line === null ? '' : `:${p.line}`}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`);
  const err = new CliError('ERR_CONFIG', `invalid configuration:\n${lines.join('\n')}`);
  err.details = problems;
  return err;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
