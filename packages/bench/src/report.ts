// Turns the raw figures into rows with ratios, targets and PASS/MISS, and prints them
// as a table (humans) or JSON (machines). A missed target never fails the run.

export type Verdict = 'PASS' | 'MISS' | 'INFO';

export type Row = {
  id: string;
  metric: string;
  unit: string;
  direct: number | null;
  gatehouse: number;
  /** gatehouse / direct */
  ratio: number | null;
  /** gatehouse − direct, for latencies */
  added: number | null;
  target: string;
  result: Verdict;
};

export type Note = string;

export const TARGETS = {
  throughputRatio: 0.8,
  addedP99Ms: 1,
  kibPerSession: 64,
} as const;

export function throughputRow(id: string, metric: string, unit: string, direct: number, gatehouse: number): Row {
  const ratio = gatehouse / direct;
  return {
    id,
    metric,
    unit,
    direct,
    gatehouse,
    ratio,
    added: null,
    target: `>= ${TARGETS.throughputRatio.toFixed(2)}x direct`,
    result: ratio >= TARGETS.throughputRatio ? 'PASS' : 'MISS',
  };
}

export function latencyRow(id: string, metric: string, direct: number, gatehouse: number, targeted: boolean): Row {
  const added = gatehouse - direct;
  return {
    id,
    metric,
    unit: 'ms',
    direct,
    gatehouse,
    ratio: gatehouse / direct,
    added,
    target: targeted ? `added < ${TARGETS.addedP99Ms} ms` : '-',
    result: targeted ? (added < TARGETS.addedP99Ms ? 'PASS' : 'MISS') : 'INFO',
  };
}

/**
 * The idle-session memory rows. The target applies to what idle sessions keep (after a
 * full GC in the node); the figures read right after opening them and after idling, with
 * no GC (V8's young generation and garbage included), are INFO rows.
 */
export function memoryRow(kibPerSession: number, sessions: number, kind: 'after-gc' | 'before-gc' | 'idle' | 'no-gc-available', idleSeconds = 0): Row {
  const targeted = kind === 'after-gc' || kind === 'no-gc-available';
  const ids = { 'after-gc': 'idle_session_kib', 'no-gc-available': 'idle_session_kib', 'before-gc': 'idle_session_kib_before_gc', idle: 'idle_session_kib_idle_no_gc' } as const;
  const metrics = {
    'after-gc': `Memory per idle TLS session (${sessions})`,
    'no-gc-available': `Memory per idle TLS session (${sessions})`,
    'before-gc': '  RSS growth per session before GC',
    idle: `  RSS growth per session after ${idleSeconds} s idle, no GC`,
  } as const;
  return {
    id: ids[kind],
    metric: metrics[kind],
    unit: 'KiB',
    direct: null,
    gatehouse: kibPerSession,
    ratio: null,
    added: null,
    target: targeted ? `< ${TARGETS.kibPerSession} KiB` : '-',
    result: targeted ? (kibPerSession < TARGETS.kibPerSession ? 'PASS' : 'MISS') : 'INFO',
  };
}

function num(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (unit === 'ms') return v.toFixed(3);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return v.toFixed(1);
}

function signed(v: number | null): string {
  if (v === null) return '-';
  return `${v >= 0 ? '+' : ''}${v.toFixed(3)} ms`;
}

export function renderTable(title: string[], rows: Row[], notes: Note[]): string {
  const header = ['Metric', 'Unit', 'Direct', 'Gatehouse', 'Ratio', 'Added', 'Target', 'Result'];
  const cells = rows.map((r) => [
    r.metric,
    r.unit,
    num(r.direct, r.unit),
    num(r.gatehouse, r.unit),
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    signed(r.added),
    r.target,
    r.result,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const numeric = new Set([2, 3, 4, 5]);
  const line = (c: string[]): string =>
    c.map((v, i) => (numeric.has(i) ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [...title, '', line(header), rule, ...cells.map(line), '', ...notes.map((n) => `  ${n}`), ''].join('\n');
}
