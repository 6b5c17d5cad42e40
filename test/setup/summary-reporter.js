// Ends every run with one plain line, "tests: N passed, N failed, N skipped", that CI logs can be read by.
// Jest prints its own summary after custom reporters, so the line is also kept in .test-summary for .ci/run.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests} skipped`;
    process.stdout.write(`\n${line}\n`);
    writeFileSync(join(__dirname, '..', '..', '.test-summary'), `${line}\n`);
  }
}
module.exports = SummaryReporter;
