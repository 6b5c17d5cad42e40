import { Injectable, Logger } from '@nestjs/common';
import { credentialField, type CredentialColumn } from 'src/credentials/credentials.encrypted-table';
import type { AuthMethod } from 'src/credentials/token-endpoint-client';
import { TokenEndpointClient, type RevocationRequest } from 'src/credentials/token-endpoint-client';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';

/** What a revocation needs of a stored credential. */
export interface RevocableCredential {
  mcpServerId: string;
  revocationEndpoint: string | null;
  clientId: string | null;
  authMethod: AuthMethod;
  refreshTokenEnc: Buffer;
  clientSecretEnc: Buffer | null;
  encKeyVersion: number;
}

/** The upstream outcome: true revoked (2xx), false tried and failed (or unreadable here), null no endpoint. */
export type UpstreamRevoked = boolean | null;

/**
 * Revoking a stored refresh token at the revocation endpoint deposited with it (RFC 7009), when the
 * credential goes: deleted by its user, or with its offboarded user. One home for reading the token (in
 * memory only, never logged) and for the call (TokenEndpointClient.revoke: bounded, under the outbound policy).
 */
@Injectable()
export class UpstreamRevocation {
  private readonly logger = new Logger('UpstreamRevocation');

  constructor(
    private readonly encryption: EncryptionService,
    private readonly client: TokenEndpointClient,
  ) {}

  /**
   * The revocation request of `row` (user `userId`): null when no endpoint was deposited, `undecryptable` when
   * this instance cannot read the token (another key version): then the revocation cannot be tried.
   */
  requestFor(userId: string, row: RevocableCredential): RevocationRequest | null | 'undecryptable' {
    if (row.revocationEndpoint === null) return null;
    const open = (column: CredentialColumn, value: Buffer): string =>
      this.encryption.decrypt(value, row.encKeyVersion, credentialField(userId, row.mcpServerId, column));
    try {
      return {
        revocationEndpoint: row.revocationEndpoint,
        refreshToken: open('refresh_token_enc', row.refreshTokenEnc),
        clientSecret: row.clientSecretEnc && open('client_secret_enc', row.clientSecretEnc),
        clientId: row.clientId,
        authMethod: row.authMethod,
      };
    } catch {
      this.logger.warn('a credential could not be decrypted here: its upstream revocation is skipped');
      return 'undecryptable';
    }
  }

  /** Sends `request` (see requestFor); never throws. */
  async revoke(request: RevocationRequest | null | 'undecryptable'): Promise<UpstreamRevoked> {
    if (request === null) return null;
    if (request === 'undecryptable') return false;
    return this.client.revoke(request);
  }
}
