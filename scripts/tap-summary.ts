// Reads the TAP that `pnpm test` printed (every package's tap run, streamed by turbo)
// and prints the one line CI reads: "N passed, N failed". A test is a top-level
// t.test() in a test file; a test file that failed without any failing test inside it
// (a crash, a syntax error, a timeout) counts as one failed test, so nothing is lost.
// Extra checks (type-check, lint) are passed as `name=0|1` arguments (1 = failed).
import { readFileSync } from 'node:fs';

const [logPath, ...checks] = process.argv.slice(2);
if (logPath === undefined) {
  console.error('usage: tap-summary LOG [check=0|1 ...]');
  process.exit(2);
}
const lines = readFileSync(logPath, 'utf8').split('\n');
let passed = 0;
let failed = 0;
let failedInFile = 0;
let filesSeen = 0;
for (const line of lines) {
  const sub = /^ {4}(not )?ok \d+ - /.exec(line);
  if (sub) {
    if (sub[1]) { failed++; failedInFile++; } else passed++;
    continue;
  }
  const file = /^(not )?ok \d+ - /.exec(line);
  if (file) {
    filesSeen++;
    if (file[1] && failedInFile === 0) failed++;
    failedInFile = 0;
  }
}
for (const check of checks) {
  const [name, result] = check.split('=');
  if (result === '0') passed++;
  else { failed++; console.error(`check failed: ${name}`); }
}
if (filesSeen === 0) { failed++; console.error('no test file ran'); }
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
