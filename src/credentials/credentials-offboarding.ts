import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { CREDENTIAL_TARGET, CredentialsAudit } from 'src/credentials/credentials.audit';
import { credentialsConfig, type CredentialsConfig } from 'src/credentials/credentials.config';
import {
  McpOAuthCredentialsRepository,
  type OffboardedCredentialRow,
} from 'src/credentials/mcp-oauth-credentials.repository';
import type { RevocationRequest } from 'src/credentials/token-endpoint-client';
import { UpstreamRevocation, type UpstreamRevoked } from 'src/credentials/upstream-revocation';

export type { UpstreamRevoked } from 'src/credentials/upstream-revocation';

/** At most this many upstream revocations of one offboarding run at once. */
export const UPSTREAM_REVOCATION_CONCURRENCY = 8;

/**
 * A credential an offboarding deleted. `revocation` is what its RFC 7009 revocation sends (the refresh token
 * in memory only, never logged), null when no revocation endpoint was deposited; `undecryptable` when one was,
 * but this instance could not read the token (then the revocation cannot be tried and counts as failed).
 */
export interface TakenCredential {
  id: string;
  mcpServerId: string;
  revocation: RevocationRequest | null;
  undecryptable: boolean;
}

/**
 * The credential store's part of offboarding a user: list their credentials, delete them all in the caller's
 * transaction (reading their refresh tokens first), then, once that committed, revoke the refresh tokens at
 * the revocation endpoints deposited with them: bounded (CREDENTIALS_REFRESH_TIMEOUT_MS each), at most
 * UPSTREAM_REVOCATION_CONCURRENCY at once, best effort, each outcome audited.
 */
@Injectable()
export class CredentialsOffboarding {
  private readonly logger = new Logger('CredentialsOffboarding');

  constructor(
    private readonly credentials: McpOAuthCredentialsRepository,
    private readonly upstream: UpstreamRevocation,
    private readonly audit: AuditService,
    @Inject(credentialsConfig.KEY) private readonly config: Pick<CredentialsConfig, 'refreshTimeoutMs'>,
  ) {}

  listOfUser(userId: string, m: EntityManager): Promise<{ id: string; mcpServerId: string }[]> {
    return this.credentials.listOfUser(userId, m);
  }

  /** Deletes every credential of the user in `m`'s transaction; audited there, one row each. */
  async takeAllOfUser(
    userId: string,
    ctx: AuditContext,
    reason: string,
    m: EntityManager,
  ): Promise<TakenCredential[]> {
    const rows = await this.credentials.deleteAllOfUser(userId, m);
    const taken = rows.map((row) => this.toTaken(userId, row));
    await this.audit.recordMany(
      ctx,
      taken.map((c) => ({
        action: CredentialsAudit.Delete,
        targetType: CREDENTIAL_TARGET,
        targetId: c.id,
        metadata: { mcpServerId: c.mcpServerId, userId, offboarding: true, reason },
      })),
      m,
    );
    return taken;
  }

  /**
   * Revokes the refresh tokens of `taken` upstream, in parallel (at most UPSTREAM_REVOCATION_CONCURRENCY at
   * once), and audits each attempt. Never throws: a provider that hangs or fails is a `false`. The whole phase
   * is bounded too: no revocation starts once one CREDENTIALS_REFRESH_TIMEOUT_MS has passed (those report
   * `false`, audited `tried: false`), so the answer comes within two timeouts however many credentials there are.
   */
  async revokeUpstream(
    taken: readonly TakenCredential[],
    ctx: AuditContext,
  ): Promise<Map<string, UpstreamRevoked>> {
    const outcomes = new Map<string, UpstreamRevoked>();
    const pending = taken.filter((c) => {
      if (c.revocation === null && !c.undecryptable) outcomes.set(c.id, null);
      return c.revocation !== null || c.undecryptable;
    });
    let next = 0;
    const startsUntil = Date.now() + this.config.refreshTimeoutMs;
    const worker = async (): Promise<void> => {
      while (next < pending.length) {
        const c = pending[next++]!;
        const tried = Date.now() < startsUntil;
        const revoked = tried
          ? ((await this.upstream.revoke(c.revocation ?? 'undecryptable')) ?? false)
          : false;
        outcomes.set(c.id, revoked);
        await this.audit
          .record(ctx, {
            action: CredentialsAudit.UpstreamRevoke,
            targetType: CREDENTIAL_TARGET,
            targetId: c.id,
            metadata: { mcpServerId: c.mcpServerId, upstreamRevoked: revoked, tried },
          })
          .catch((err: unknown) =>
            this.logger.warn(`could not audit an upstream revocation: ${(err as Error).name}`),
          );
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(UPSTREAM_REVOCATION_CONCURRENCY, pending.length) }, worker),
    );
    return outcomes;
  }

  private toTaken(userId: string, row: OffboardedCredentialRow): TakenCredential {
    const request = this.upstream.requestFor(userId, row);
    return {
      id: row.id,
      mcpServerId: row.mcpServerId,
      revocation: request === 'undecryptable' ? null : request,
      undecryptable: request === 'undecryptable',
    };
  }
}
