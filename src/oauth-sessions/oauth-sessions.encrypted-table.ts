import { defineEncryptedTable } from 'src/crypto/encryption/encrypted-tables';
import type { EncryptedField } from 'src/crypto/encryption/encryption.service';

export const OAUTH_SESSIONS_TABLE = 'oauth_sessions';

/**
 * Where a session's provider key lives, as associated data: the table, the column, the session id and its
 * user. A ciphertext copied to another session, or to a session re-pointed at another user, fails to decrypt.
 */
export function providerKeyField(session: { id: string; userId: string }): EncryptedField {
  return { table: OAUTH_SESSIONS_TABLE, column: 'provider_key', row: [session.id, session.userId] };
}

/** The sessions table as the rewrap (`npm run credentials:rewrap`) sees it. */
export const OAUTH_SESSIONS_ENCRYPTED_TABLE = defineEncryptedTable({
  table: OAUTH_SESSIONS_TABLE,
  keyColumns: ['id'],
  versionColumn: 'enc_key_version',
  columns: ['provider_key'],
  identityColumns: ['user_id'],
  field: (row, column) => {
    if (column !== 'provider_key')
      throw new Error(`${OAUTH_SESSIONS_TABLE} has no encrypted column ${column}`);
    return providerKeyField({ id: String(row.id), userId: String(row.user_id) });
  },
});
