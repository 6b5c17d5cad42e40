import { defineEncryptedTable } from 'src/crypto/encryption/encrypted-tables';
import type { EncryptedField } from 'src/crypto/encryption/encryption.service';

export const CREDENTIALS_TABLE = 'mcp_oauth_credentials';

/** The encrypted columns of a credential row; every one is under the row's `enc_key_version`. */
export type CredentialColumn = 'refresh_token_enc' | 'client_secret_enc' | 'access_token_enc';

/**
 * Where a credential's value lives, bound into its ciphertext: the user and the MCP server (the row's
 * identity, which an upsert keeps), and the column. A value copied to another user's row, another server
 * or another column fails to decrypt.
 */
export function credentialField(
  userId: string,
  mcpServerId: string,
  column: CredentialColumn,
): EncryptedField {
  return { table: CREDENTIALS_TABLE, column, row: [userId, mcpServerId] };
}

/** The credentials table, for `npm run credentials:rewrap`. */
export const credentialsEncryptedTable = defineEncryptedTable({
  table: CREDENTIALS_TABLE,
  keyColumns: ['id'],
  versionColumn: 'enc_key_version',
  columns: ['refresh_token_enc', 'client_secret_enc', 'access_token_enc'],
  identityColumns: ['user_id', 'mcp_server_id'],
  field: (row, column) =>
    credentialField(String(row.user_id), String(row.mcp_server_id), column as CredentialColumn),
});
