import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import type { Pool } from 'pg';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { ACTOR_BOOTSTRAP } from 'src/auth/actors';
import type { CreateOrgTokenDto } from 'src/org-tokens/dto/create-org-token.dto';
import type {
  MintedOrgTokenDto,
  OrgTokenDto,
  OrgTokenListDto,
  RevokedOrgTokenDto,
} from 'src/org-tokens/dto/org-token.dto';
import { OrgToken } from 'src/org-tokens/org-token.entity';
import { generateOrgToken, hashOrgToken, isWellFormedOrgToken } from 'src/org-tokens/org-token-format';
import { OrgTokenErrorCode, orgTokenError } from 'src/org-tokens/org-tokens.errors';

export const ORG_TOKEN_LIST_LIMIT = 500;
export const MINT_WARNING = 'Store this token now: it will not be shown again.';
/** `last_used_at` is written at most once per token per interval (per instance, and in SQL across them). */
export const LAST_USED_WRITE_INTERVAL_SECONDS = 5;

export const AUDIT_ORG_TOKEN_MINT = 'org_token.mint';
export const AUDIT_ORG_TOKEN_REVOKE = 'org_token.revoke';

/** A live token a credential proved. */
export interface VerifiedOrgToken {
  id: string;
  prefix: string;
}

const LIVE = 'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())';
/** Serialises bootstrap mints across instances (a transaction-scoped advisory lock; "kso" in ASCII). */
const BOOTSTRAP_MINT_LOCK = 0x6b736f;

@Injectable()
export class OrgTokensService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('OrgTokens');
  /** Token id → when this instance last wrote its `last_used_at` (ms). Bounded: a miss only costs a write. */
  private readonly lastUseWrites = new LRUCache<string, number>({ max: 10_000 });
  private readonly pendingWrites = new Set<Promise<void>>();
  /** Once an org token has existed bootstrap never opens again, so "closed" is remembered for good. */
  private bootstrapLatched = false;

  constructor(
    @InjectRepository(OrgToken) private readonly tokens: Repository<OrgToken>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  async mint(ctx: AuditContext, dto: CreateOrgTokenDto): Promise<MintedOrgTokenDto> {
    const { token, hash, prefix } = generateOrgToken();
    const name = dto.name?.trim() || null;
    const expiresAt = dto.expiresAt ? new Date(dto.expiresAt) : null;
    const row = await this.dataSource.transaction(async (manager) => {
      if (ctx.actor === ACTOR_BOOTSTRAP) {
        // The bootstrap tier let this request in because no token existed when it looked; parallel
        // anonymous mints all saw that. One at a time, and only the first finds the table still empty.
        await manager.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_MINT_LOCK]);
        if (await this.anyTokenExists(manager)) throw orgTokenError(OrgTokenErrorCode.BootstrapClosed);
      }
      const repo = manager.getRepository(OrgToken);
      const saved = await repo.save(
        repo.create({ name, tokenHash: hash, prefix, createdBy: ctx.actor, expiresAt }),
      );
      await this.audit.record(
        ctx,
        {
          action: AUDIT_ORG_TOKEN_MINT,
          targetType: 'org_token',
          targetId: saved.id,
          metadata: { prefix, name, expiresAt: expiresAt?.toISOString() ?? null },
        },
        manager,
      );
      return saved;
    });
    this.bootstrapLatched = true;
    // A token that was just minted has no last use: the mint answer leaves the field out.
    const { lastUsedAt: _neverUsed, ...view } = toDto(row);
    return { ...view, token, warning: MINT_WARNING };
  }

  /** Live tokens (not revoked, not expired), newest first, bounded. */
  async list(): Promise<OrgTokenListDto> {
    const rows = await this.tokens
      .createQueryBuilder('t')
      .where('t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())')
      .orderBy('t.created_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(ORG_TOKEN_LIST_LIMIT)
      .getMany();
    return { tokens: rows.map(toDto) };
  }

  /** Idempotent: an already revoked token answers the same; only the first revocation is audited. */
  async revoke(ctx: AuditContext, id: string): Promise<RevokedOrgTokenDto> {
    await this.dataSource.transaction(async (manager) => {
      // UPDATE ... RETURNING answers [rows, rowCount]. Concurrent revocations serialise on the row lock; the
      // later ones then match nothing, so exactly one of them writes the audit row.
      const [rows] = await manager.query<[{ prefix: string }[], number]>(
        'UPDATE org_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING prefix',
        [id],
      );
      const first = rows[0];
      if (first) {
        await this.audit.record(
          ctx,
          {
            action: AUDIT_ORG_TOKEN_REVOKE,
            targetType: 'org_token',
            targetId: id,
            metadata: { prefix: first.prefix },
          },
          manager,
        );
        return;
      }
      if (!(await manager.getRepository(OrgToken).existsBy({ id }))) {
        throw orgTokenError(OrgTokenErrorCode.NotFound);
      }
    });
    return { id, revoked: true };
  }

  /**
   * The live token `credential` is, or null. A malformed string or a bad checksum is refused here, without a
   * query. Otherwise one lookup on the unique partial index over live hashes: equality on a SHA-256 digest
   * leaks nothing about the plaintext, so no constant-time compare is needed on top. Never cached, so a
   * revocation holds on the very next request on every instance.
   */
  async verify(credential: string): Promise<VerifiedOrgToken | null> {
    if (!isWellFormedOrgToken(credential)) return null;
    const { rows } = await this.pool().query<VerifiedOrgToken>({
      // Named: each pooled connection parses and plans it once. This runs on every admin request.
      name: 'keysmith_org_token_verify',
      text: `SELECT id, prefix FROM org_tokens WHERE token_hash = $1 AND ${LIVE}`,
      values: [hashOrgToken(credential)],
    });
    const token = rows[0];
    if (!token) return null;
    this.touch(token.id);
    return token;
  }

  /** TypeORM's pg pool: the hot path skips the query-runner layer and uses a prepared statement. */
  private pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }

  /**
   * Whether the bootstrap tier is closed for good: an org token exists or has ever existed (revoked and
   * expired rows are kept, so any row is the latch). Once true it is remembered and costs no more queries;
   * until then each call looks, so a token minted on another instance closes it here on the next request.
   */
  async bootstrapClosed(): Promise<boolean> {
    if (!this.bootstrapLatched && (await this.anyTokenExists())) this.bootstrapLatched = true;
    return this.bootstrapLatched;
  }

  private async anyTokenExists(manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    const rows = await manager.query<unknown[]>('SELECT 1 FROM org_tokens LIMIT 1');
    return rows.length > 0;
  }

  /** Resolves once every `last_used_at` write started so far has finished (shutdown, tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.pendingWrites]);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.settle();
  }

  /**
   * Records a use without delaying or failing the request: fire and forget, coalesced per token, and
   * skipped while requests are queueing for a pooled connection (the next use records it instead).
   */
  private touch(id: string): void {
    const now = Date.now();
    const last = this.lastUseWrites.get(id);
    if (last !== undefined && now - last < LAST_USED_WRITE_INTERVAL_SECONDS * 1000) return;
    if (this.pool().waitingCount > 0) return;
    this.lastUseWrites.set(id, now);
    const write = this.dataSource
      .query(
        `UPDATE org_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR ` +
          `last_used_at < now() - make_interval(secs => ${LAST_USED_WRITE_INTERVAL_SECONDS}))`,
        [id],
      )
      .then(
        () => undefined,
        (err: unknown) => {
          this.lastUseWrites.delete(id);
          this.logger.warn({ err: (err as Error).message, tokenId: id }, 'could not record org token use');
        },
      );
    this.pendingWrites.add(write);
    void write.finally(() => this.pendingWrites.delete(write));
  }
}

function toDto(row: OrgToken): OrgTokenDto {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    lastUsedAt: row.lastUsedAt,
  };
}
