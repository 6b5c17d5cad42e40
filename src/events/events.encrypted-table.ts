import { defineEncryptedTable } from 'src/crypto/encryption/encrypted-tables';
import type { EncryptedField } from 'src/crypto/encryption/encryption.service';

export const WEBHOOK_ENDPOINTS_TABLE = 'webhook_endpoints';

/** The encrypted columns of an endpoint: its signing secret, and the one it replaced during a rotation's grace. */
export type WebhookSecretColumn = 'secret_enc' | 'previous_secret_enc';

/** Where an endpoint's secret lives, bound into its ciphertext: the endpoint and the column. */
export function webhookSecretField(endpointId: string, column: WebhookSecretColumn): EncryptedField {
  return { table: WEBHOOK_ENDPOINTS_TABLE, column, row: [endpointId] };
}

/** The webhook endpoints table, for the start key check and `npm run credentials:rewrap`. */
export const WEBHOOK_ENDPOINTS_ENCRYPTED_TABLE = defineEncryptedTable({
  table: WEBHOOK_ENDPOINTS_TABLE,
  keyColumns: ['id'],
  versionColumn: 'enc_key_version',
  columns: ['secret_enc', 'previous_secret_enc'],
  field: (row, column) => webhookSecretField(String(row.id), column as WebhookSecretColumn),
});
