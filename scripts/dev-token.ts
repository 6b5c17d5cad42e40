// npm run -s dev:token -- session <sub> [--org <orgId>]
// npm run -s dev:token -- m2m "<scopes>" [--client <clientId>]
// Prints a token of the development issuer (decision 0045), valid for an hour, on one line and nothing else
// on stdout; errors go to stderr with a non-zero exit (2: bad arguments, 1: could not run). Uses DATABASE_URL,
// else the embedded database of a running `npm start`, else starts the embedded database for a moment.
import 'reflect-metadata';
import { runDevTokenCommand } from 'src/auth/development-issuer/dev-token-command';

runDevTokenCommand(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`dev:token failed: ${err instanceof Error ? err.message : 'unknown error'}\n`);
    process.exitCode = 1;
  },
);
