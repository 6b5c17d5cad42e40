// npm run credentials:rewrap [-- --batch-size=<rows>]
// Re-encrypts the rows of every encrypted table still on an older key version under the newest one, then
// reports how many rows remain on each old version. Run it with the service's environment (DATABASE_URL,
// ENCRYPTION_KEYS), while the service keeps serving. Exit codes: see RewrapExit (0 done, 1 unreadable rows,
// 2 could not run, 3 rows in use: run again).
import 'reflect-metadata';
// The app's configuration and encrypted tables, named (src/app.registrations.ts); nothing boots.
import { APP_REGISTRATIONS } from 'src/app.registrations';
import { RewrapExit, runRewrapCommand } from 'src/crypto/encryption/rewrap-command';

const arg = process.argv.slice(2).find((a) => a.startsWith('--batch-size='));
const batchSize = arg === undefined ? undefined : Number(arg.slice('--batch-size='.length));
if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)) {
  process.stderr.write('--batch-size must be an integer from 1 to 10000\n');
  process.exit(RewrapExit.Failed);
}

runRewrapCommand(
  process.env,
  { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY },
  APP_REGISTRATIONS,
  { batchSize },
).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `credentials:rewrap failed: ${err instanceof Error ? err.message : 'unknown error'}\n`,
    );
    process.exit(RewrapExit.Failed);
  },
);
