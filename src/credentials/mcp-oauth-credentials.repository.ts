import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { CredentialFailureType, HealthFields } from 'src/credentials/credential-health';
import type { AuthMethod } from 'src/credentials/token-endpoint-client';
import { preparedQuery } from 'src/database/prepared-query';

export interface NewCredentialRow {
  userId: string;
  mcpServerId: string;
  tokenEndpoint: string;
  clientId: string | null;
  authMethod: AuthMethod;
  scopes: string | null;
  resource: string | null;
  /** RFC 7009: where the refresh token is revoked when the credential goes with its offboarded user. */
  revocationEndpoint: string | null;
  clientSecretExpiresAt: Date | null;
  refreshTokenEnc: Buffer;
  clientSecretEnc: Buffer | null;
  encKeyVersion: number;
  /** The deposit was validated by a refresh (`validate: true`): its time is the last refresh. */
  validated: boolean;
}

export interface DepositedRow {
  id: string;
  mcpServerId: string;
  createdAt: Date;
  updatedAt: Date;
  /** False when the deposit replaced the user's credential for this server. */
  inserted: boolean;
}

export interface CredentialMetadataRow extends HealthFields {
  mcpServerId: string;
  tokenEndpoint: string;
  clientId: string | null;
  authMethod: AuthMethod;
  scopes: string | null;
  clientSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  lastRefreshedAt: Date | null;
  lastFailureReason: CredentialFailureType | null;
  lastFailureAt: Date | null;
}

/** A stored credential's health, as a deposit that replaces it reads it (under its row lock). */
export interface CredentialHealthRow extends HealthFields {
  id: string;
}

/** Everything a refresh needs of a credential, ciphertexts included, and whether its user is disabled. */
export interface UsableCredentialRow {
  id: string;
  userId: string;
  mcpServerId: string;
  tokenEndpoint: string;
  clientId: string | null;
  authMethod: AuthMethod;
  scopes: string | null;
  resource: string | null;
  /** RFC 7009: where the refresh token is revoked when the credential is deleted. */
  revocationEndpoint: string | null;
  clientSecretExpiresAt: Date | null;
  refreshTokenEnc: Buffer;
  clientSecretEnc: Buffer | null;
  accessTokenEnc: Buffer | null;
  accessTokenType: string | null;
  accessTokenScope: string | null;
  accessTokenExpiresAt: Date | null;
  encKeyVersion: number;
  reauthorizationRequiredAt: Date | null;
  consecutiveFailures: number;
  backoffUntil: Date | null;
  /** When the last upstream failure was recorded: a caller that waited for the lock sees whether one just happened. */
  lastFailureAt: Date | null;
  lastFailureReason: CredentialFailureType | null;
  userDisabledAt: Date | null;
}

/** What a refresh writes back: the credential's ciphertexts and cached access token, under one key version. */
export type RefreshedValues = Pick<
  UsableCredentialRow,
  | 'refreshTokenEnc'
  | 'clientSecretEnc'
  | 'accessTokenEnc'
  | 'accessTokenType'
  | 'accessTokenScope'
  | 'accessTokenExpiresAt'
  | 'encKeyVersion'
>;

const USABLE_COLUMNS = `c.id, c.user_id AS "userId", c.mcp_server_id AS "mcpServerId",
  c.token_endpoint AS "tokenEndpoint", c.client_id AS "clientId", c.auth_method AS "authMethod", c.scopes,
  c.resource, c.revocation_endpoint AS "revocationEndpoint", c.client_secret_expires_at AS "clientSecretExpiresAt", c.refresh_token_enc AS "refreshTokenEnc",
  c.client_secret_enc AS "clientSecretEnc", c.access_token_enc AS "accessTokenEnc",
  c.access_token_type AS "accessTokenType", c.access_token_scope AS "accessTokenScope",
  c.access_token_expires_at AS "accessTokenExpiresAt", c.enc_key_version AS "encKeyVersion",
  c.reauthorization_required_at AS "reauthorizationRequiredAt", c.consecutive_failures AS "consecutiveFailures",
  c.backoff_until AS "backoffUntil", c.last_failure_at AS "lastFailureAt",
  c.last_failure_reason AS "lastFailureReason", u.disabled_at AS "userDisabledAt"`;

/** A credential as an offboarding reads it: enough to report it, and to revoke its refresh token upstream. */
export interface OffboardedCredentialRow {
  id: string;
  mcpServerId: string;
  revocationEndpoint: string | null;
  clientId: string | null;
  authMethod: AuthMethod;
  refreshTokenEnc: Buffer;
  clientSecretEnc: Buffer | null;
  encKeyVersion: number;
}

/** What a DELETE returns of a credential: an OffboardedCredentialRow. */
const DELETED_COLUMNS = `id, mcp_server_id AS "mcpServerId", revocation_endpoint AS "revocationEndpoint",
  client_id AS "clientId", auth_method AS "authMethod", refresh_token_enc AS "refreshTokenEnc",
  client_secret_enc AS "clientSecretEnc", enc_key_version AS "encKeyVersion"`;

/** The most credentials one list answers with. */
export const LIST_LIMIT = 1000;

/**
 * Every query on `mcp_oauth_credentials`. Methods that take a `manager` run in the caller's transaction; none
 * raises a constraint error, so a transaction stays usable.
 */
@Injectable()
export class McpOAuthCredentialsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Stores the user's credential for the server, replacing one already there. A replacement starts afresh:
   * the cached access token, any "reauthorization required" mark and any failure count or backoff are
   * cleared; the last refresh is now when the deposit was validated by one, else none yet.
   */
  async upsert(row: NewCredentialRow, m: EntityManager): Promise<DepositedRow> {
    const [out] = await m.query<DepositedRow[]>(
      `INSERT INTO mcp_oauth_credentials (user_id, mcp_server_id, token_endpoint, client_id, auth_method, scopes,
         client_secret_expires_at, refresh_token_enc, client_secret_enc, enc_key_version, resource,
         revocation_endpoint, last_refreshed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $13::boolean THEN now() END)
       ON CONFLICT (user_id, mcp_server_id) DO UPDATE SET
         token_endpoint = EXCLUDED.token_endpoint,
         client_id = EXCLUDED.client_id,
         auth_method = EXCLUDED.auth_method,
         scopes = EXCLUDED.scopes,
         resource = EXCLUDED.resource,
         revocation_endpoint = EXCLUDED.revocation_endpoint,
         client_secret_expires_at = EXCLUDED.client_secret_expires_at,
         refresh_token_enc = EXCLUDED.refresh_token_enc,
         client_secret_enc = EXCLUDED.client_secret_enc,
         enc_key_version = EXCLUDED.enc_key_version,
         access_token_enc = NULL,
         access_token_type = NULL,
         access_token_scope = NULL,
         access_token_expires_at = NULL,
         reauthorization_required_at = NULL,
         last_refreshed_at = EXCLUDED.last_refreshed_at,
         consecutive_failures = 0,
         backoff_until = NULL,
         last_failure_reason = NULL,
         last_failure_at = NULL,
         updated_at = now()
       RETURNING id, mcp_server_id AS "mcpServerId", created_at AS "createdAt", updated_at AS "updatedAt",
                 (xmax = 0) AS inserted`,
      [
        row.userId,
        row.mcpServerId,
        row.tokenEndpoint,
        row.clientId,
        row.authMethod,
        row.scopes,
        row.clientSecretExpiresAt,
        row.refreshTokenEnc,
        row.clientSecretEnc,
        row.encKeyVersion,
        row.resource,
        row.revocationEndpoint,
        row.validated,
      ],
    );
    return out!;
  }

  /**
   * The health of the user's credential for the server, its row locked until the transaction ends (a deposit
   * replacing it reads what it replaces; a refresh in progress finishes first). Undefined when none is stored.
   */
  async lockHealth(
    userId: string,
    mcpServerId: string,
    m: EntityManager,
  ): Promise<CredentialHealthRow | undefined> {
    const [row] = await m.query<CredentialHealthRow[]>(
      `SELECT id, reauthorization_required_at AS "reauthorizationRequiredAt",
              client_secret_expires_at AS "clientSecretExpiresAt", consecutive_failures AS "consecutiveFailures"
       FROM mcp_oauth_credentials WHERE user_id = $1 AND mcp_server_id = $2 FOR UPDATE`,
      [userId, mcpServerId],
    );
    return row;
  }

  /** The user's credentials, metadata and health only, by server id. */
  listOwned(userId: string): Promise<CredentialMetadataRow[]> {
    return this.dataSource.query<CredentialMetadataRow[]>(
      `SELECT mcp_server_id AS "mcpServerId", token_endpoint AS "tokenEndpoint", client_id AS "clientId",
              auth_method AS "authMethod", scopes, client_secret_expires_at AS "clientSecretExpiresAt",
              created_at AS "createdAt", updated_at AS "updatedAt",
              reauthorization_required_at AS "reauthorizationRequiredAt",
              last_refreshed_at AS "lastRefreshedAt", consecutive_failures AS "consecutiveFailures",
              last_failure_reason AS "lastFailureReason", last_failure_at AS "lastFailureAt"
       FROM mcp_oauth_credentials WHERE user_id = $1 ORDER BY mcp_server_id LIMIT $2`,
      [userId, LIST_LIMIT],
    );
  }

  /**
   * Deletes the user's credential for the server and returns it as it was, ciphertexts included (undefined when
   * there was none). A refresh holding the row's lock finishes first: the DELETE returns the refresh token it
   * stored, which is the one to revoke upstream.
   */
  async deleteOwned(
    userId: string,
    mcpServerId: string,
    m: EntityManager,
  ): Promise<OffboardedCredentialRow | undefined> {
    // DELETE … RETURNING comes back as [rows, count] through TypeORM's postgres driver.
    const [rows] = await m.query<[OffboardedCredentialRow[], number]>(
      `DELETE FROM mcp_oauth_credentials WHERE user_id = $1 AND mcp_server_id = $2
       RETURNING ${DELETED_COLUMNS}`,
      [userId, mcpServerId],
    );
    return rows[0];
  }

  /** The credential without any lock (the cached-token path; one prepared statement). */
  async findUsable(userId: string, mcpServerId: string): Promise<UsableCredentialRow | undefined> {
    const [row] = await preparedQuery<UsableCredentialRow>(
      this.dataSource,
      'credentials_find_usable',
      `SELECT ${USABLE_COLUMNS} FROM mcp_oauth_credentials c JOIN users u ON u.id = c.user_id
       WHERE c.user_id = $1 AND c.mcp_server_id = $2`,
      [userId, mcpServerId],
    );
    return row;
  }

  /**
   * Bounds the caller's transaction: waiting for a row lock ends after `lockWaitMs` (SQLSTATE 55P03), any
   * statement after `lockWaitMs` plus a second, and the session is ended by PostgreSQL if the transaction
   * sits idle longer than `idleMs` (a process stalled while holding a credential's lock).
   */
  async boundTransaction(m: EntityManager, lockWaitMs: number, idleMs: number): Promise<void> {
    await m.query(
      `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true),
              set_config('idle_in_transaction_session_timeout', $3, true)`,
      [String(lockWaitMs), String(lockWaitMs + 1000), String(idleMs)],
    );
  }

  /**
   * The credential, its row locked until the transaction ends: concurrent refreshes of one credential, on
   * any instance, run one after the other, and each sees what the previous one stored.
   */
  async lockUsable(
    userId: string,
    mcpServerId: string,
    m: EntityManager,
  ): Promise<UsableCredentialRow | undefined> {
    const [row] = await m.query<UsableCredentialRow[]>(
      `SELECT ${USABLE_COLUMNS} FROM mcp_oauth_credentials c JOIN users u ON u.id = c.user_id
       WHERE c.user_id = $1 AND c.mcp_server_id = $2 FOR UPDATE OF c`,
      [userId, mcpServerId],
    );
    return row;
  }

  /**
   * Stores what a refresh produced; every ciphertext of the row is rewritten under `encKeyVersion`. A success
   * ends any run of failures and any backoff.
   */
  async storeRefreshed(id: string, v: RefreshedValues, m: EntityManager): Promise<void> {
    await m.query(
      `UPDATE mcp_oauth_credentials SET refresh_token_enc = $2, client_secret_enc = $3, access_token_enc = $4,
         access_token_type = $5, access_token_scope = $6, access_token_expires_at = $7, enc_key_version = $8,
         last_refreshed_at = now(), consecutive_failures = 0, backoff_until = NULL
       WHERE id = $1`,
      [
        id,
        v.refreshTokenEnc,
        v.clientSecretEnc,
        v.accessTokenEnc,
        v.accessTokenType,
        v.accessTokenScope,
        v.accessTokenExpiresAt,
        v.encKeyVersion,
      ],
    );
  }

  /**
   * Counts one more upstream failure of `reason`, and starts a backoff of `backoffMs` when it is not null.
   */
  async recordFailure(
    id: string,
    reason: CredentialFailureType,
    backoffMs: number | null,
    m: EntityManager,
  ): Promise<void> {
    await m.query(
      `UPDATE mcp_oauth_credentials SET consecutive_failures = consecutive_failures + 1,
         last_failure_reason = $2, last_failure_at = now(),
         backoff_until = CASE WHEN $3::integer IS NULL THEN NULL ELSE now() + $3::integer * interval '1 millisecond' END
       WHERE id = $1`,
      [id, reason, backoffMs],
    );
  }

  /**
   * Marks the credential as refused by its server (`invalid_grant`, its last failure, counted like any other);
   * the cached access token and any backoff go with it: nothing is tried until the user deposits again.
   */
  async markReauthorizationRequired(id: string, m: EntityManager): Promise<void> {
    await m.query(
      `UPDATE mcp_oauth_credentials SET reauthorization_required_at = now(), access_token_enc = NULL,
         access_token_type = NULL, access_token_scope = NULL, access_token_expires_at = NULL,
         consecutive_failures = consecutive_failures + 1, last_failure_reason = 'invalid_grant',
         last_failure_at = now(), backoff_until = NULL
       WHERE id = $1`,
      [id],
    );
  }

  /** Every credential of the user (an offboarding's dry run), by server id. */
  listOfUser(userId: string, m: EntityManager): Promise<{ id: string; mcpServerId: string }[]> {
    return m.query(
      `SELECT id, mcp_server_id AS "mcpServerId" FROM mcp_oauth_credentials WHERE user_id = $1
       ORDER BY mcp_server_id`,
      [userId],
    );
  }

  /**
   * Deletes every credential of the user and returns them as they were, ciphertexts included (an offboarding
   * revokes their refresh tokens upstream once it committed). A refresh holding a row's lock finishes first;
   * the DELETE then returns the token it stored.
   */
  async deleteAllOfUser(userId: string, m: EntityManager): Promise<OffboardedCredentialRow[]> {
    const [rows] = await m.query<[OffboardedCredentialRow[], number]>(
      `DELETE FROM mcp_oauth_credentials WHERE user_id = $1 RETURNING ${DELETED_COLUMNS}`,
      [userId],
    );
    return rows.sort((a, b) => (a.mcpServerId < b.mcpServerId ? -1 : a.mcpServerId > b.mcpServerId ? 1 : 0));
  }
}
