import { DataSource } from 'typeorm';
import { authConfig } from 'src/auth/auth.config';
import {
  loadOrCreateDevelopmentIssuerKey,
  signDevelopmentToken,
  type DevelopmentToken,
} from 'src/auth/development-issuer/development-issuer';
import { DevelopmentIssuerKey } from 'src/auth/development-issuer/development-issuer-key.entity';
import { loadSlice } from 'src/config/config-slice';
import { ConfigValidationError, type Env } from 'src/config/env-reader';
import { dataSourceOptions } from 'src/database/data-source-options';
import {
  embeddedDatabaseUrl,
  runningEmbeddedPort,
  startEmbeddedPostgres,
  type EmbeddedDatabase,
} from 'src/database/embedded-postgres';
import { runMigrationsLocked } from 'src/database/migrate';

export const USAGE =
  'usage: npm run -s dev:token -- session <sub> [--org <orgId>]\n' +
  '       npm run -s dev:token -- m2m "<scope> [<scope> …]" [--client <clientId>]';

/** Exit codes of `npm run dev:token`. */
export const DevTokenExit = { Done: 0, Failed: 1, Usage: 2 } as const;

/** The scopes keysmith's internal routes require (each route needs one). */
export const KNOWN_SCOPES = ['apikeys:resolve', 'provision:apikey', 'credentials:use'];
/** A scope is `<resource>:<action>`, lower case, as every scope keysmith checks. */
const SCOPE = /^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$/;
const DEFAULT_CLIENT_ID = 'dev-client';
const MAX_NAME_LENGTH = 255;
/** The embedded database `npm start` serves from this directory. */
const EMBEDDED_DATA_DIR = '.data/postgres';
const EMBEDDED_DATABASE = 'keysmith';

export class UsageError extends Error {}

/** A name a token carries (`sub`, `org_id`, `client_id`): non-blank, no spaces, at most 255 characters. */
function name(value: string | undefined, what: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${what} must not be empty`);
  if (/\s/.test(value)) throw new UsageError(`${what} must not contain spaces`);
  if (value.length > MAX_NAME_LENGTH) throw new UsageError(`${what} must be at most 255 characters`);
  return value;
}

/** The token `args` (what follows `npm run dev:token --`) ask for; a UsageError saying what is wrong. */
export function parseDevTokenArgs(args: readonly string[]): DevelopmentToken {
  const [kind, value, ...rest] = args;
  const options = new Map<string, string | undefined>();
  for (let i = 0; i < rest.length; i += 2) {
    const option = rest[i]!;
    if (options.has(option)) throw new UsageError(`${option} is given twice`);
    options.set(option, rest[i + 1]);
  }
  const only = (allowed: string): void => {
    for (const option of options.keys()) {
      if (option !== allowed) throw new UsageError(`unknown option ${option} for a ${kind} token`);
    }
  };
  switch (kind) {
    case 'session': {
      only('--org');
      const subject = name(value, 'the subject (<sub>)');
      if (!options.has('--org')) return { kind, subject };
      return { kind, subject, orgId: name(options.get('--org'), '--org') };
    }
    case 'm2m': {
      only('--client');
      const clientId = options.has('--client')
        ? name(options.get('--client'), '--client')
        : DEFAULT_CLIENT_ID;
      return { kind, scopes: parseScopes(value), clientId };
    }
    case undefined:
      throw new UsageError('say which kind of token: session or m2m');
    default:
      throw new UsageError(`unknown kind "${kind}": session or m2m`);
  }
}

function parseScopes(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') {
    throw new UsageError(`name at least one scope, e.g. "${KNOWN_SCOPES.join(' ')}"`);
  }
  const scopes = value.trim().split(/ +/);
  const bad = scopes.find((scope) => !SCOPE.test(scope));
  if (bad !== undefined) {
    throw new UsageError(
      `"${bad.slice(0, 60)}" is not a scope: scopes are <resource>:<action> in lower case, separated by ` +
        `spaces in one argument (keysmith's: ${KNOWN_SCOPES.join(', ')})`,
    );
  }
  return [...new Set(scopes)];
}

export interface DevTokenOutput {
  /** The token's one line: nothing else is ever written here. */
  out(text: string): unknown;
  /** Everything else (errors, notes). */
  err(text: string): unknown;
}

/**
 * The database the development issuer's key lives in: DATABASE_URL; else the embedded database of an
 * `npm start` running in this directory (its port is in postmaster.pid); else the embedded database itself,
 * started for as long as the command runs.
 */
async function openDatabase(env: Env, cwd: string): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL };
  const dataDir = `${cwd}/${EMBEDDED_DATA_DIR}`;
  const port = runningEmbeddedPort(dataDir);
  if (port !== undefined) return { url: embeddedDatabaseUrl(port, EMBEDDED_DATABASE) };
  const embedded = await startEmbeddedPostgres({
    dataDir,
    database: EMBEDDED_DATABASE,
    onNotice: () => undefined,
  });
  return { url: embedded.url, embedded };
}

/** `npm run dev:token`: prints one development issuer token, or says on stderr why not. */
export async function runDevTokenCommand(
  args: readonly string[],
  env: Env,
  output: DevTokenOutput,
  cwd = process.cwd(),
): Promise<number> {
  let request: DevelopmentToken;
  try {
    request = parseDevTokenArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    output.err(`dev:token: ${err.message}\n${USAGE}\n`);
    return DevTokenExit.Usage;
  }
  try {
    if (!loadSlice(authConfig, env).developmentIssuer) {
      output.err(
        'dev:token: the development issuer is off in this environment (NODE_ENV=production, an AUTH_SESSION_* ' +
          'or AUTH_M2M_* variable set, or AUTH_DEVELOPMENT_ISSUER=false): keysmith would refuse its tokens\n',
      );
      return DevTokenExit.Failed;
    }
  } catch (err) {
    if (!(err instanceof ConfigValidationError)) throw err;
    output.err(`dev:token: ${err.message}\n`);
    return DevTokenExit.Failed;
  }
  if (request.kind === 'm2m') {
    const unknown = request.scopes.filter((scope) => !KNOWN_SCOPES.includes(scope));
    if (unknown.length) output.err(`dev:token: note: no keysmith route requires ${unknown.join(', ')}\n`);
  }
  const { url, embedded } = await openDatabase(env, cwd);
  const dataSource = new DataSource(dataSourceOptions(url, [DevelopmentIssuerKey]));
  try {
    await dataSource.initialize();
    // The same migrations the app applies at start, under the same lock: a database the app has not seen
    // yet (or not since this table came) gets the key table.
    await runMigrationsLocked(dataSource);
    const key = await loadOrCreateDevelopmentIssuerKey(dataSource);
    output.out(`${signDevelopmentToken(key, request)}\n`);
    return DevTokenExit.Done;
  } finally {
    await dataSource.destroy().catch(() => undefined);
    await embedded?.stop();
  }
}
