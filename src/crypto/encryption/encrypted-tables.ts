import type { EncryptedField } from 'src/crypto/encryption/encryption.service';

/**
 * A table that keeps values encrypted by EncryptionService, described for the rewrap
 * (`npm run credentials:rewrap`), which moves rows still on older key versions to the newest. A feature that
 * stores encrypted columns defines its table next to its entity with `defineEncryptedTable`, and the
 * composition root lists it by name in `ENCRYPTED_TABLES` (src/app.registrations.ts): the list the start
 * check (`EncryptionModule.forRoot`) and the rewrap are given.
 */
export interface EncryptedTable {
  /** The table (a constant, never input). */
  readonly table: string;
  /** The primary-key columns: rows are paged and locked by them. */
  readonly keyColumns: readonly string[];
  /** The column that records the key version the row's values are encrypted with. */
  readonly versionColumn: string;
  /** The encrypted (bytea) columns; a NULL value is left as it is. */
  readonly columns: readonly string[];
  /**
   * The associated data of `column` in a row, from the row's values (the key columns and whatever else the
   * feature binds its ciphertexts to), exactly as the feature encrypts it.
   */
  field(row: Readonly<Record<string, unknown>>, column: string): EncryptedField;
  /** Columns besides the key columns that `field` reads. */
  readonly identityColumns?: readonly string[];
}

const tables = new Map<string, EncryptedTable>();

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** `name` quoted for SQL; only plain identifiers (table descriptions are constants, never input). */
export function quotedIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a plain SQL identifier`);
  return `"${name}"`;
}

/** Every column a row of `table` needs to be decrypted, quoted, each once. */
export function selectedColumns(table: EncryptedTable): string[] {
  return [
    ...new Set([
      ...table.keyColumns,
      ...(table.identityColumns ?? []),
      table.versionColumn,
      ...table.columns,
    ]),
  ].map(quotedIdentifier);
}

export function defineEncryptedTable(table: EncryptedTable): EncryptedTable {
  if (tables.has(table.table)) throw new Error(`encrypted table "${table.table}" is defined twice`);
  tables.set(table.table, table);
  return table;
}

/**
 * Every encrypted table defined so far, in the order defined: only for the test that checks that
 * ENCRYPTED_TABLES names them all. The start check and the rewrap read the list they are given.
 */
export function definedEncryptedTables(): readonly EncryptedTable[] {
  return [...tables.values()];
}
