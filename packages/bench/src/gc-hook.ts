// Preloaded into the Gatehouse node by the bench only (`node --expose-gc --import` this
// file; an operator's node never has it). On SIGUSR2 it runs V8's most thorough
// collection (the "last resort" one: full GCs with compaction until nothing more is
// freed, the young generation shrunk, freed pages given back) and says so on stderr, with
// the node's memory usage after it, so the memory phase can read the RSS that live
// objects need and split it into JS heap and native memory. On SIGWINCH (ignored by a
// node without this hook) it only reports the memory usage, with no GC: the size of V8's
// young generation is what an idle node keeps of a burst of logins. The bench reports
// both figures.
//
// With GATEHOUSE_BENCH_HEAP_SNAPSHOTS=DIR in its environment (for investigating, never in
// a measured run: writing one grows the RSS), the node also writes a heap snapshot to
// DIR after each collection.
import path from 'node:path';
import v8 from 'node:v8';

let collections = 0;
let reports = 0;
const snapshotDir = process.env['GATEHOUSE_BENCH_HEAP_SNAPSHOTS'];

function usage(): string {
  const m = process.memoryUsage();
  const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  return JSON.stringify({ rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, newSpace });
}

process.on('SIGUSR2', () => {
  globalThis.gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  collections++;
  const after = usage();
  if (snapshotDir !== undefined && snapshotDir !== '') v8.writeHeapSnapshot(path.join(snapshotDir, `gatehouse-${process.pid}-${collections}.heapsnapshot`));
  process.stderr.write(`gatehouse-bench: gc ${collections} done${globalThis.gc ? '' : ' (unavailable)'} ${after}\n`);
});

process.on('SIGWINCH', () => {
  reports++;
  process.stderr.write(`gatehouse-bench: usage ${reports} ${usage()}\n`);
});
