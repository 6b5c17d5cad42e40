import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, Unique } from 'typeorm';
import { User } from 'src/users/user.entity';

/** Bounds shared by the DTOs and the columns: what validation lets through always fits. */
export const MCP_SERVER_ID_MAX = 255;
export const TOKEN_ENDPOINT_MAX = 2048;
export const CLIENT_ID_MAX = 255;
export const AUTH_METHOD_MAX = 64;
export const SCOPES_MAX = 2048;
export const RESOURCE_MAX = 2048;
/** Refresh tokens and client secrets are encrypted (bytea); these bound what a deposit may carry. */
export const REFRESH_TOKEN_MAX = 4096;
export const CLIENT_SECRET_MAX = 1024;

/**
 * A user's OAuth credential for one MCP server. The refresh token, the client secret and the cached access
 * token are AES-256-GCM ciphertexts (EncryptionService), all under the row's `enc_key_version` and bound to
 * the row's user and server (credentials.encrypted-table.ts).
 */
@Entity('mcp_oauth_credentials')
@Unique('uq_mcp_oauth_credentials_user_server', ['userId', 'mcpServerId'])
export class McpOAuthCredential {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Column({ name: 'mcp_server_id', type: 'varchar', length: MCP_SERVER_ID_MAX })
  mcpServerId: string;

  @Column({ name: 'token_endpoint', type: 'varchar', length: TOKEN_ENDPOINT_MAX })
  tokenEndpoint: string;

  @Column({ name: 'client_id', type: 'varchar', length: CLIENT_ID_MAX, nullable: true })
  clientId: string | null;

  /** The method the refresh uses: the deposited one, or the default for what was deposited. */
  @Column({ name: 'auth_method', type: 'varchar', length: AUTH_METHOD_MAX })
  authMethod: string;

  @Column({ type: 'varchar', length: SCOPES_MAX, nullable: true })
  scopes: string | null;

  /** The MCP server's resource indicator (RFC 8707), sent with every refresh. Public, so plain text. */
  @Column({ type: 'varchar', length: RESOURCE_MAX, nullable: true })
  resource: string | null;

  /**
   * Where the refresh token is revoked (RFC 7009) when the credential goes (its user offboarded); null: none
   * deposited. The same outbound policy as the token endpoint.
   */
  @Column({ name: 'revocation_endpoint', type: 'varchar', length: TOKEN_ENDPOINT_MAX, nullable: true })
  revocationEndpoint: string | null;

  @Column({ name: 'client_secret_expires_at', type: 'timestamptz', nullable: true })
  clientSecretExpiresAt: Date | null;

  @Column({ name: 'refresh_token_enc', type: 'bytea', select: false })
  refreshTokenEnc: Buffer;

  @Column({ name: 'client_secret_enc', type: 'bytea', nullable: true, select: false })
  clientSecretEnc: Buffer | null;

  /** The last access token issued, kept (encrypted) until shortly before it expires. */
  @Column({ name: 'access_token_enc', type: 'bytea', nullable: true, select: false })
  accessTokenEnc: Buffer | null;

  @Column({ name: 'access_token_type', type: 'varchar', length: 64, nullable: true })
  accessTokenType: string | null;

  /** The scope the token endpoint reported for the cached access token (its length is the server's). */
  @Column({ name: 'access_token_scope', type: 'text', nullable: true })
  accessTokenScope: string | null;

  @Column({ name: 'access_token_expires_at', type: 'timestamptz', nullable: true })
  accessTokenExpiresAt: Date | null;

  /** The version of the master secret every ciphertext of the row is encrypted under. */
  @Column({ name: 'enc_key_version', type: 'integer' })
  encKeyVersion: number;

  /** Set when the token endpoint answered `invalid_grant`; cleared by the next deposit. */
  @Column({ name: 'reauthorization_required_at', type: 'timestamptz', nullable: true })
  reauthorizationRequiredAt: Date | null;

  @Column({ name: 'last_refreshed_at', type: 'timestamptz', nullable: true })
  lastRefreshedAt: Date | null;

  /** Upstream failures since the last success (or deposit); from CREDENTIALS_FAILURES_BEFORE_BACKOFF on, it backs off. */
  @Column({ name: 'consecutive_failures', type: 'integer', default: 0 })
  consecutiveFailures: number;

  /** Until when refreshes are not tried (502 `backing_off`); null when not backing off. */
  @Column({ name: 'backoff_until', type: 'timestamptz', nullable: true })
  backoffUntil: Date | null;

  /** The `reason` of the last upstream failure (credentials.errors.ts vocabulary, never provider text). */
  @Column({ name: 'last_failure_reason', type: 'varchar', length: 32, nullable: true })
  lastFailureReason: string | null;

  @Column({ name: 'last_failure_at', type: 'timestamptz', nullable: true })
  lastFailureAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
