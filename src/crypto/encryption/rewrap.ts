import type { DataSource } from 'typeorm';
import {
  quotedIdentifier as ident,
  selectedColumns,
  type EncryptedTable,
} from 'src/crypto/encryption/encrypted-tables';
import { DecryptionFailedError } from 'src/crypto/encryption/encryption.errors';
import type { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { ApiError } from 'src/errors/api-error';

/** Rows re-encrypted per transaction. */
export const DEFAULT_REWRAP_BATCH_SIZE = 100;

/** A row the rewrap could not read: its key columns and version, never a value. */
export interface UnreadableRow {
  key: Record<string, string>;
  version: number;
  /** `key_missing`: its version is not configured (or below ENCRYPTION_MIN_VERSION); `decryption_failed`: tampered, truncated or written under another secret. */
  reason: 'key_missing' | 'decryption_failed';
}

export interface VersionCount {
  version: number;
  rows: number;
}

export interface TableRewrap {
  table: string;
  /** Rows moved to the current version by this run. */
  rewrapped: number;
  /** Rows still on another version after this run (unreadable ones, and rows the service held locked). */
  remaining: VersionCount[];
  unreadable: UnreadableRow[];
}

export interface RewrapProgress {
  table: string;
  /** Rows looked at so far (rewrapped or found unreadable). */
  done: number;
  /** Rows on other versions when the table's pass began. */
  total: number;
}

/** How many rows of `table` are on each version other than `current`, oldest first. */
export async function rowsOnOtherVersions(
  dataSource: DataSource,
  table: EncryptedTable,
  current: number,
): Promise<VersionCount[]> {
  const version = ident(table.versionColumn);
  const rows = await dataSource.query<{ version: number; rows: string }[]>(
    `SELECT ${version} AS version, count(*) AS rows FROM ${ident(table.table)}
     WHERE ${version} <> $1 GROUP BY ${version} ORDER BY ${version}`,
    [current],
  );
  return rows.map((r) => ({ version: Number(r.version), rows: Number(r.rows) }));
}

/**
 * Re-encrypts every row of `table` that is not on the current key version, in batches of `batchSize`, each
 * batch its own transaction. Safe while the service serves: a batch locks its rows (`FOR UPDATE SKIP
 * LOCKED`, so a row the service is writing is skipped, not waited for), and each UPDATE still requires the
 * version it read. Resumable: rows are walked in key order, and a run that stopped (or skipped locked rows)
 * is finished by running again. Rows that cannot be decrypted are left as they are and reported by key.
 */
export async function rewrapTable(
  dataSource: DataSource,
  encryption: EncryptionService,
  table: EncryptedTable,
  options: { batchSize?: number; onProgress?: (progress: RewrapProgress) => void } = {},
): Promise<TableRewrap> {
  const current = encryption.currentVersion;
  const batchSize = options.batchSize ?? DEFAULT_REWRAP_BATCH_SIZE;
  const keys = table.keyColumns.map(ident);
  const version = ident(table.versionColumn);
  const selected = selectedColumns(table);
  const total = (await rowsOnOtherVersions(dataSource, table, current)).reduce((n, v) => n + v.rows, 0);
  const unreadable: UnreadableRow[] = [];
  let rewrapped = 0;
  let done = 0;
  let after: unknown[] | undefined;
  options.onProgress?.({ table: table.table, done, total });

  for (;;) {
    const cursor = after ? `AND (${keys.join(', ')}) > (${keys.map((_, i) => `$${i + 2}`).join(', ')})` : '';
    const batch = await dataSource.transaction(async (m) => {
      const rows = await m.query<Record<string, unknown>[]>(
        `SELECT ${selected.join(', ')} FROM ${ident(table.table)}
         WHERE ${version} <> $1 ${cursor}
         ORDER BY ${keys.join(', ')} LIMIT ${Number(batchSize)} FOR UPDATE SKIP LOCKED`,
        [current, ...(after ?? [])],
      );
      let moved = 0;
      for (const row of rows) {
        const rowVersion = Number(row[table.versionColumn]);
        let values: (Buffer | null)[];
        try {
          values = table.columns.map((column) => {
            const stored = row[column];
            if (stored === null || stored === undefined) return null;
            const field = table.field(row, column);
            return encryption.encrypt(encryption.decrypt(stored as Buffer, rowVersion, field), field)
              .ciphertext;
          });
        } catch (err) {
          const reason = unreadableReason(err);
          if (!reason) throw err;
          unreadable.push({ key: keyOf(table, row), version: rowVersion, reason });
          continue;
        }
        const sets = table.columns.map((column, i) => `${ident(column)} = $${i + 1}`);
        const n = table.columns.length;
        const where = table.keyColumns.map((column, i) => `${ident(column)} = $${n + 3 + i}`);
        const [, count] = await m.query<[unknown[], number]>(
          `UPDATE ${ident(table.table)} SET ${sets.join(', ')}, ${version} = $${n + 1}
           WHERE ${where.join(' AND ')} AND ${version} = $${n + 2}`,
          [...values, current, rowVersion, ...table.keyColumns.map((c) => row[c])],
        );
        moved += count;
      }
      const last = rows.at(-1);
      return { seen: rows.length, moved, last: last && table.keyColumns.map((c) => last[c]) };
    });
    if (batch.seen === 0) break;
    rewrapped += batch.moved;
    done += batch.seen;
    after = batch.last;
    options.onProgress?.({ table: table.table, done: Math.min(done, total), total });
    if (batch.seen < batchSize) break;
  }

  return {
    table: table.table,
    rewrapped,
    remaining: await rowsOnOtherVersions(dataSource, table, current),
    unreadable,
  };
}

function unreadableReason(err: unknown): UnreadableRow['reason'] | undefined {
  if (err instanceof DecryptionFailedError) return 'decryption_failed';
  if (err instanceof ApiError && err.type === 'encryption_key_missing') return 'key_missing';
  return undefined;
}

function keyOf(table: EncryptedTable, row: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(table.keyColumns.map((c) => [c, String(row[c])]));
}
