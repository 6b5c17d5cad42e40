import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import type { Pool } from 'pg';
import { DataSource, Repository } from 'typeorm';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
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

@Injectable()
export class OrgTokensService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('OrgTokens');
  /** Token id → when this instance last wrote its `last_used_at` (ms). Bounded: a miss only costs a write. */
  private readonly lastUseWrites = new LRUCache<string, number>({ max: 10_000 });
  private readonly pendingWrites = new Set<Promise<void>>();

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
    return {
      id: row.id,
      name: row.name,
      prefix: row.prefix,
      createdBy: row.createdBy,
      createdAt: row.createdAt,
      expiresAt: row.expiresAt,
      token,
      warning: MINT_WARNING,
    };
  }

  /** Live tokens (not revoked, not expired), newest first, bounded. */
  async list(): Promise<OrgTokenListDto> {
    const rows = await this.tokens
      .createQueryBuilder('t')
      .where(LIVE.replace(/\b(revoked_at|expires_at)\b/g, 't.$1'))
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

  /** Whether any live token exists (closes the bootstrap tier). Not cached: that would keep it open. */
  async hasLiveToken(): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(`SELECT 1 FROM org_tokens WHERE ${LIVE} LIMIT 1`);
    return rows.length > 0;
  }

  /** Resolves once every `last_used_at` write started so far has finished (shutdown, tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.pendingWrites]);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.settle();
  }

  /** Records a use without delaying or failing the request: fire and forget, coalesced per token. */
  private touch(id: string): void {
    const now = Date.now();
    const last = this.lastUseWrites.get(id);
    if (last !== undefined && now - last < LAST_USED_WRITE_INTERVAL_SECONDS * 1000) return;
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
