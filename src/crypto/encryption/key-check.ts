import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { timingSafeEqual } from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  quotedIdentifier,
  selectedColumns,
  type EncryptedTable,
} from 'src/crypto/encryption/encrypted-tables';
import { EncryptionKeyChecksRepository } from 'src/crypto/encryption/encryption-key-checks.repository';
import { KeyCheckMismatchError } from 'src/crypto/encryption/encryption.errors';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';

/** Stored values of a version tried, per table, before its check value is first recorded. */
export const KEY_CHECK_PROBE_ROWS = 5;

export interface KeyCheckOutcome {
  version: number;
  /** `recorded`: this call wrote the version's check value; `matched`: it equals the one recorded. */
  outcome: 'recorded' | 'matched';
}

/**
 * Compares the check value of every configured key version with the one `encryption_key_checks` records, and
 * records it for a version seen for the first time (race-safe: insert unless present, then read back and
 * compare, so of two instances starting together with different secrets one fails). Before recording, the
 * secret must open a stored value of that version when there are any (rows written before key checks
 * existed), so a wrong secret is caught on the upgrade too. Throws KeyCheckMismatchError; does nothing when
 * no key is configured. Run at start and by the rewrap, before anything is encrypted or decrypted.
 */
export async function verifyKeyChecks(
  dataSource: DataSource,
  encryption: EncryptionService,
  tables: readonly EncryptedTable[],
): Promise<KeyCheckOutcome[]> {
  if (!encryption.available) return [];
  const checks = new EncryptionKeyChecksRepository(dataSource);
  const outcomes: KeyCheckOutcome[] = [];
  for (const { version, value } of encryption.keyChecks()) {
    let recorded = await checks.find(version);
    let outcome: KeyCheckOutcome['outcome'] = 'matched';
    if (!recorded) {
      if (!(await opensStoredValues(dataSource, encryption, version, tables)))
        throw new KeyCheckMismatchError(encryption.variable, version, 'stored');
      if (await checks.record(version, value)) outcome = 'recorded';
      recorded = await checks.find(version);
    }
    if (!recorded || recorded.length !== value.length || !timingSafeEqual(recorded, value))
      throw new KeyCheckMismatchError(encryption.variable, version, 'recorded');
    outcomes.push({ version, outcome });
  }
  return outcomes;
}

/**
 * Whether the configured secret of `version` opens a value stored under it: true when one of the first
 * values tried in any table opens, or when none is stored (nothing to contradict the secret). A tampered
 * row alone does not fail the check as long as another row of the version opens.
 */
async function opensStoredValues(
  dataSource: DataSource,
  encryption: EncryptionService,
  version: number,
  tables: readonly EncryptedTable[],
): Promise<boolean> {
  let tried = 0;
  for (const table of tables) {
    const [exists] = await dataSource.query<{ present: boolean }[]>(
      'SELECT to_regclass($1) IS NOT NULL AS present',
      [table.table],
    );
    if (!exists?.present) continue;
    const anyValue = table.columns.map((c) => `${quotedIdentifier(c)} IS NOT NULL`).join(' OR ');
    const rows = await dataSource.query<Record<string, unknown>[]>(
      `SELECT ${selectedColumns(table).join(', ')} FROM ${quotedIdentifier(table.table)}
       WHERE ${quotedIdentifier(table.versionColumn)} = $1 AND (${anyValue})
       LIMIT ${KEY_CHECK_PROBE_ROWS}`,
      [version],
    );
    for (const row of rows) {
      const column = table.columns.find((c) => row[c] !== null && row[c] !== undefined);
      if (!column) continue;
      tried++;
      if (encryption.opens(row[column] as Buffer, version, table.field(row, column))) return true;
    }
  }
  return tried === 0;
}

/** The injection token of the app's encrypted tables (`EncryptionModule.forRoot(ENCRYPTED_TABLES)`). */
export const ENCRYPTED_TABLES_TOKEN = Symbol('ENCRYPTED_TABLES');

/** The start check: an instance whose secret does not match refuses to start (the error stops the init). */
@Injectable()
export class KeyCheckOnStart implements OnModuleInit {
  private readonly logger = new Logger('Encryption');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly encryption: EncryptionService,
    @Inject(ENCRYPTED_TABLES_TOKEN) private readonly tables: readonly EncryptedTable[],
  ) {}

  async onModuleInit(): Promise<void> {
    const outcomes = await verifyKeyChecks(this.dataSource, this.encryption, this.tables);
    const recorded = outcomes.filter((o) => o.outcome === 'recorded').map((o) => o.version);
    if (recorded.length)
      this.logger.log({ versions: recorded }, 'recorded the key-check value of new encryption key versions');
  }
}
