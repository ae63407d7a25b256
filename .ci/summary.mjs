// Prints `N passed, N failed[, N skipped]` from vitest's JSON report; exits 1 if it is missing.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-results.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const suiteErrors = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0,
).length;
const line = `${passed} passed, ${failed + suiteErrors} failed` + (skipped > 0 ? `, ${skipped} skipped` : '');
console.log(line);
process.exit(failed + suiteErrors > 0 || passed === 0 ? 1 : 0);
