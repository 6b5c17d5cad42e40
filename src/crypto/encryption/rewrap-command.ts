import { DataSource } from 'typeorm';
import { appConfig } from 'src/config/app-config';
import type { LoadedConfig } from 'src/config/config-slice';
import { ConfigValidationError, type Env } from 'src/config/env-reader';
import type { EncryptedTable } from 'src/crypto/encryption/encrypted-tables';
import { encryptionConfig } from 'src/crypto/encryption/encryption.config';
import { KeyCheckMismatchError } from 'src/crypto/encryption/encryption.errors';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { verifyKeyChecks } from 'src/crypto/encryption/key-check';
import {
  DEFAULT_REWRAP_BATCH_SIZE,
  rewrapTable,
  type RewrapProgress,
  type TableRewrap,
} from 'src/crypto/encryption/rewrap';
import { dataSourceOptions } from 'src/database/data-source-options';

/** Exit codes of `npm run credentials:rewrap`. */
export const RewrapExit = {
  /** Every row of every encrypted table is on the current version: older secrets may be dropped. */
  Done: 0,
  /** Some rows cannot be decrypted (listed by key): fix or delete them before dropping a secret. */
  Unreadable: 1,
  /** The command could not run (configuration, database, a secret that does not match its version). */
  Failed: 2,
  /** Some rows were in use by the service and skipped: run again. */
  RowsRemain: 3,
} as const;

export interface RewrapOutput {
  write(text: string): unknown;
  /** A terminal: the progress is drawn as a bar; otherwise one line per batch. */
  isTTY?: boolean;
}

const BAR_WIDTH = 30;

/** Draws a table's progress: a bar redrawn in place on a terminal, plain lines for logs and pipes. */
function progressPrinter(out: RewrapOutput): (p: RewrapProgress) => void {
  return ({ table, done, total }) => {
    if (out.isTTY) {
      const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
      const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
      out.write(
        `\r${table} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} (${percent}%)`,
      );
    } else {
      out.write(`${table}: ${done}/${total}\n`);
    }
  };
}

function describe(result: TableRewrap, current: number): string[] {
  const lines = [`${result.table}: ${result.rewrapped} row(s) moved to version ${current}`];
  if (result.remaining.length === 0) {
    lines.push(`  no rows remain on another version`);
  } else {
    for (const { version, rows } of result.remaining)
      lines.push(`  ${rows} row(s) remain on version ${version}`);
  }
  for (const row of result.unreadable) {
    const key = Object.entries(row.key)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    lines.push(`  unreadable: ${key} (version ${row.version}, ${row.reason.replace('_', ' ')})`);
  }
  return lines;
}

/** What the rewrap is told of the app (APP_REGISTRATIONS in src/app.registrations.ts). */
export interface RewrapApp {
  /** Reads and validates the service's whole configuration, as the service does at start. */
  loadConfig(env: Env): LoadedConfig;
  /** Every table the app keeps encrypted values in (ENCRYPTED_TABLES). */
  readonly encryptedTables: readonly EncryptedTable[];
}

/**
 * `npm run credentials:rewrap`: re-encrypts, under the newest version of ENCRYPTION_KEYS, every row of every
 * table of `app.encryptedTables` that is still on an older version, then reports, per table, how
 * many rows remain on each old version. An old secret may be dropped from ENCRYPTION_KEYS (and
 * ENCRYPTION_MIN_VERSION raised) once no row remains on its version. Reads the service's own environment.
 */
export async function runRewrapCommand(
  env: Env,
  out: RewrapOutput,
  app: RewrapApp,
  options: { batchSize?: number } = {},
): Promise<number> {
  let encryption: EncryptionService;
  let databaseUrl: string | undefined;
  let pooled: boolean;
  try {
    const config = app.loadConfig(env);
    encryption = new EncryptionService(config.get(encryptionConfig));
    databaseUrl = config.get(appConfig).databaseUrl;
    // Behind a transaction-mode pooler (decision 0103): no startup parameters.
    pooled = config.get(appConfig).databaseListenUrl !== undefined;
  } catch (err) {
    if (!(err instanceof ConfigValidationError)) throw err;
    out.write(`${err.message}\n`);
    return RewrapExit.Failed;
  }
  if (!databaseUrl) {
    out.write('DATABASE_URL must be set (`npm start` on the embedded database prints its DATABASE_URL).\n');
    return RewrapExit.Failed;
  }
  if (!encryption.available) {
    out.write('ENCRYPTION_KEY or ENCRYPTION_KEYS must be set.\n');
    return RewrapExit.Failed;
  }
  const tables = app.encryptedTables;
  const current = encryption.currentVersion;
  const dataSource = new DataSource(dataSourceOptions(databaseUrl, [], pooled));
  await dataSource.initialize();
  const results: TableRewrap[] = [];
  try {
    // The service's own start check, before any row is touched: with a wrong secret for the newest version
    // the rewrap would move every row to a secret no instance has.
    try {
      await verifyKeyChecks(dataSource, encryption, tables);
    } catch (err) {
      if (!(err instanceof KeyCheckMismatchError)) throw err;
      out.write(`${err.message}\n`);
      return RewrapExit.Failed;
    }
    out.write(
      `Rewrapping ${tables.map((t) => t.table).join(', ') || 'no tables'} to key version ${current} ` +
        `(configured: ${encryption.versions.join(', ')})\n`,
    );
    for (const table of tables) {
      results.push(
        await rewrapTable(dataSource, encryption, table, {
          batchSize: options.batchSize ?? DEFAULT_REWRAP_BATCH_SIZE,
          onProgress: progressPrinter(out),
        }),
      );
      if (out.isTTY) out.write('\n');
    }
  } finally {
    await dataSource.destroy();
  }

  for (const result of results) out.write(`${describe(result, current).join('\n')}\n`);
  if (results.some((r) => r.unreadable.length > 0)) {
    out.write('Some rows cannot be decrypted: keep every secret until they are fixed or deleted.\n');
    return RewrapExit.Unreadable;
  }
  if (results.some((r) => r.remaining.length > 0)) {
    out.write('Some rows were in use and skipped: run the command again.\n');
    return RewrapExit.RowsRemain;
  }
  const old = encryption.versions.filter((v) => v !== current);
  out.write(
    old.length
      ? `Every row is on version ${current}: version(s) ${old.join(', ')} may now be dropped from ENCRYPTION_KEYS.\n`
      : `Every row is on version ${current}.\n`,
  );
  return RewrapExit.Done;
}
