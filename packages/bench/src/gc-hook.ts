// Preloaded into the Gatehouse node by the bench only (`node --expose-gc --import` this
// file; an operator's node never has it). On SIGUSR2 it runs V8's most thorough
// collection (the "last resort" one: full GCs with compaction until nothing more is
// freed, the young generation shrunk, freed pages given back) and says so on stderr, so
// the memory phase can read the RSS that live objects need, without the garbage of a
// burst of logins that the node would otherwise give back only after a minute or two
// of idling. The bench reports that figure next to the one read without a GC.
let collections = 0;

process.on('SIGUSR2', () => {
  globalThis.gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  collections++;
  process.stderr.write(`gatehouse-bench: gc ${collections} done${globalThis.gc ? '' : ' (unavailable)'}\n`);
});
