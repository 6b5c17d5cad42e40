import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { Actors } from 'src/auth/actors';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { EventsOutbox } from 'src/events/events-outbox';
import type { BootstrapLatch, OrgTokenVerifier } from 'src/auth/admin/admin-auth.ports';
import type { AdminPrincipal } from 'src/auth/principal';
import { adminScopesOf, inCatalogOrder, scopesNotHeld, type AdminScope } from 'src/auth/admin/admin-scopes';
import { LastUsedRecorder } from 'src/database/last-used-recorder';
import { RevocationFeed } from 'src/database/revocation-feed';
import { isoOrNull, iso } from 'src/validation/instants';
import type { CreateOrgTokenDto } from 'src/org-tokens/dto/create-org-token.dto';
import type {
  MintedOrgTokenDto,
  OrgTokenDto,
  OrgTokenListDto,
  RevokedOrgTokenDto,
  RolledOrgTokenDto,
} from 'src/org-tokens/dto/org-token.dto';
import { DEFAULT_GRACE_SECONDS, type RollOrgTokenDto } from 'src/org-tokens/dto/roll-org-token.dto';
import type { OrgToken } from 'src/org-tokens/org-token.entity';
import { ORG_TOKEN_REVOCATION_CHANNEL, OrgTokenCache } from 'src/org-tokens/org-token-cache';
import { generateOrgToken, hashOrgToken, isWellFormedOrgToken } from 'src/org-tokens/org-token-format';
import { OrgTokensAudit } from 'src/org-tokens/org-tokens.audit';
import { OrgTokenErrorCode, orgTokenError } from 'src/org-tokens/org-tokens.errors';
import { OrgTokensRepository } from 'src/org-tokens/org-tokens.repository';
import { UsersService } from 'src/users/users.service';

export const ORG_TOKEN_LIST_LIMIT = 500;
export const MINT_WARNING = 'Store this token now: it will not be shown again.';
/** `last_used_at` is written at most once per token per interval (per instance, and in SQL across them). */
export const LAST_USED_WRITE_INTERVAL_SECONDS = 5;

/** A live token a credential proved. */
export interface VerifiedOrgToken {
  id: string;
  prefix: string;
  scopes: readonly AdminScope[];
}

/** What a token gets when its mint names no scopes (API.md: `admin`, the default). */
export const DEFAULT_SCOPES: readonly AdminScope[] = ['admin'];

/**
 * Org tokens: mint, list, revoke, roll, and the two things AdminAuth consults (bound by AppModule to its ports):
 * verifying a presented token, and the bootstrap latch.
 */
@Injectable()
export class OrgTokensService implements OrgTokenVerifier, BootstrapLatch, BeforeApplicationShutdown {
  private readonly lastUsed: LastUsedRecorder;
  /** Once an org token has existed bootstrap never opens again, so "closed" is remembered for good. */
  private bootstrapLatched = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly tokens: OrgTokensRepository,
    private readonly audit: AuditService,
    private readonly cache: OrgTokenCache,
    private readonly feed: RevocationFeed,
    private readonly users: UsersService,
    private readonly events: EventsOutbox,
  ) {
    this.lastUsed = new LastUsedRecorder({
      what: 'org tokens',
      precisionMs: LAST_USED_WRITE_INTERVAL_SECONDS * 1000,
      // Written at once (batched with the uses of the same tick): an admin listing tokens sees a use at once.
      flushDelayMs: 0,
      write: (ids, precisionSeconds) => tokens.markUsed(ids, precisionSeconds),
      busy: () => tokens.poolBusy(),
    });
  }

  /**
   * Mints a token with the scopes asked for (`admin` when none are): never one the caller's credential does
   * not hold itself (403). The token joins the caller's lineage (decision 0110): a session's, ADMIN_TOKEN's,
   * the owner's of an API key (the deprecated tier), or, minted with an org token, that token's. When that lineage is a person's (a session), their user row is
   * locked first, the lock the kill switch takes: a mint racing their offboarding commits before it (and is
   * revoked by it) or sees them disabled (403), never leaving a live token behind.
   */
  async mint(
    ctx: AuditContext,
    principal: AdminPrincipal,
    dto: CreateOrgTokenDto,
  ): Promise<MintedOrgTokenDto> {
    const scopes = inCatalogOrder(dto.scopes ?? DEFAULT_SCOPES);
    const notHeld = scopesNotHeld(principal.scopes, scopes);
    if (notHeld.length > 0) throw orgTokenError(OrgTokenErrorCode.ScopesNotHeld, notHeld);
    const { token, hash, prefix } = generateOrgToken();
    const name = dto.name || null;
    const expiresAt = dto.expiresAt === undefined ? null : new Date(dto.expiresAt);
    const row = await this.dataSource.transaction(async (m) => {
      if (ctx.actor === Actors.bootstrap) {
        // The bootstrap tier let this request in because no token existed when it looked.
        await this.tokens.lockBootstrapMints(m);
        if (await this.tokens.anyExists(m)) throw orgTokenError(OrgTokenErrorCode.BootstrapClosed);
      }
      const mintedFor =
        principal.orgTokenId === undefined
          ? (principal.mintsFor ?? ctx.actor)
          : ((await this.tokens.mintedFor(principal.orgTokenId, m)) ?? ctx.actor);
      await this.lockOwner(mintedFor, m);
      const saved = await this.tokens.insert(
        { name, tokenHash: hash, prefix, scopes, createdBy: ctx.actor, mintedFor, expiresAt },
        m,
      );
      await this.audit.record(
        ctx,
        {
          action: OrgTokensAudit.Mint,
          targetType: 'org_token',
          targetId: saved.id,
          metadata: { prefix, name, expiresAt: isoOrNull(expiresAt), scopes, mintedFor },
        },
        m,
      );
      await this.events.emit(m, 'org_token.created', {
        tokenId: saved.id,
        prefix,
        name,
        scopes,
        createdBy: ctx.actor,
        expiresAt: isoOrNull(expiresAt),
      });
      return saved;
    });
    this.bootstrapLatched = true;
    return minted(row, token);
  }

  /**
   * Rolls token `id` into a new one with its name, scopes and expiry (the plaintext answered once); the old
   * one keeps working for `graceSeconds` (never past its expiry), then is refused everywhere. Only a live
   * token that was never rolled can be (409 otherwise), and only by a credential that holds its scopes (403):
   * a roll never hands out more than its caller holds. Concurrent rolls take turns on the row's lock: one
   * wins, the others see it rolled. The successor stays in the old token's lineage (decision 0110), whoever
   * rolls it; when that is a person's, their user row is locked first, as a mint does.
   */
  async roll(
    ctx: AuditContext,
    held: readonly AdminScope[],
    id: string,
    dto: RollOrgTokenDto,
  ): Promise<RolledOrgTokenDto> {
    const graceSeconds = dto.graceSeconds ?? DEFAULT_GRACE_SECONDS;
    const { token, hash, prefix } = generateOrgToken();
    const { row, previous } = await this.dataSource.transaction(async (m) => {
      // The user's lock before the token's, in the kill switch's order (it locks the user, then the tokens).
      const mintedFor = await this.tokens.mintedFor(id, m);
      if (mintedFor === undefined) throw orgTokenError(OrgTokenErrorCode.NotFound);
      await this.lockOwner(mintedFor, m);
      const old = await this.tokens.lockForRoll(id, m);
      if (!old) throw orgTokenError(OrgTokenErrorCode.NotFound);
      const scopes = inCatalogOrder(adminScopesOf(old.scopes));
      const notHeld = scopesNotHeld(held, scopes);
      if (notHeld.length > 0) throw orgTokenError(OrgTokenErrorCode.ScopesNotHeld, notHeld);
      if (old.revoked) throw orgTokenError(OrgTokenErrorCode.RollRevoked);
      if (old.rolled) throw orgTokenError(OrgTokenErrorCode.RollRolled);
      if (old.expired) throw orgTokenError(OrgTokenErrorCode.RollExpired);
      const saved = await this.tokens.insert(
        {
          name: old.name,
          tokenHash: hash,
          prefix,
          scopes,
          createdBy: ctx.actor,
          mintedFor,
          expiresAt: old.expiresAt,
        },
        m,
      );
      const graceEndsAt = await this.tokens.markRolled(id, saved.id, graceSeconds, m);
      // Fires on commit: every instance drops what it cached of the old token, and reads its grace end.
      await this.feed.notify(ORG_TOKEN_REVOCATION_CHANNEL, [id], m);
      await this.audit.record(
        ctx,
        {
          action: OrgTokensAudit.Roll,
          targetType: 'org_token',
          targetId: id,
          metadata: {
            successorId: saved.id,
            successorPrefix: prefix,
            graceSeconds,
            graceEndsAt: iso(graceEndsAt),
          },
        },
        m,
      );
      await this.audit.record(
        ctx,
        {
          action: OrgTokensAudit.Mint,
          targetType: 'org_token',
          targetId: saved.id,
          metadata: {
            prefix,
            name: old.name,
            expiresAt: isoOrNull(old.expiresAt),
            scopes,
            mintedFor,
            rolledFrom: id,
          },
        },
        m,
      );
      await this.events.emit(m, 'org_token.rolled', {
        tokenId: id,
        successorId: saved.id,
        successorPrefix: prefix,
        name: old.name,
        createdBy: ctx.actor,
        graceEndsAt: iso(graceEndsAt),
      });
      return { row: saved, previous: { id, graceEndsAt: iso(graceEndsAt) } };
    });
    this.feed.revokedLocally(ORG_TOKEN_REVOCATION_CHANNEL, [id]);
    return { ...minted(row, token), previous };
  }

  /** Live tokens (not revoked, not expired), newest first, bounded. */
  async list(): Promise<OrgTokenListDto> {
    const rows = await this.tokens.listLive(ORG_TOKEN_LIST_LIMIT);
    return { tokens: rows.map(toDto) };
  }

  /**
   * Idempotent: an already revoked token answers the same, a rolled one past its grace too (it stays rolled);
   * only the first revocation is audited. Reason `admin`.
   */
  async revoke(ctx: AuditContext, id: string): Promise<RevokedOrgTokenDto> {
    await this.dataSource.transaction(async (m) => {
      const revoked = await this.tokens.revoke(id, m);
      if (revoked) {
        // Fires on commit: every instance drops its cached verification of this token.
        await this.feed.notify(ORG_TOKEN_REVOCATION_CHANNEL, [id], m);
        await this.audit.record(
          ctx,
          {
            action: OrgTokensAudit.Revoke,
            targetType: 'org_token',
            targetId: id,
            metadata: { prefix: revoked.prefix, revokedReason: 'admin' },
          },
          m,
        );
        await this.events.emit(m, 'org_token.revoked', {
          tokenId: id,
          prefix: revoked.prefix,
          reason: 'admin',
        });
        return;
      }
      if (!(await this.tokens.exists(id, m))) throw orgTokenError(OrgTokenErrorCode.NotFound);
    });
    this.feed.revokedLocally(ORG_TOKEN_REVOCATION_CHANNEL, [id]);
    return { id, revoked: true };
  }

  /**
   * The live token `credential` is, or null. A malformed string or a bad checksum is refused here, without a
   * query. Then the cache (OrgTokenCache: a revocation still holds on the very next request on every
   * instance), else one lookup by hash; equality on a SHA-256 digest leaks nothing about the plaintext, so no
   * constant-time compare is needed on top.
   */
  async verify(credential: string): Promise<VerifiedOrgToken | null> {
    if (!isWellFormedOrgToken(credential)) return null;
    const hash = hashOrgToken(credential);
    let token = await this.cache.find(hash);
    if (token === undefined) {
      const generation = this.cache.generation;
      const row = await this.tokens.findLiveByHash(hash);
      token = row
        ? {
            id: row.id,
            prefix: row.prefix,
            scopes: adminScopesOf(row.scopes),
            expiresAtMs: row.endsAt?.getTime() ?? null,
          }
        : null;
      this.cache.set(hash, token, generation);
    }
    if (!token) return null;
    this.lastUsed.record(token.id);
    return { id: token.id, prefix: token.prefix, scopes: token.scopes };
  }

  /**
   * Whether the bootstrap tier is closed for good: an org token exists or has ever existed. Once true it is
   * remembered and costs no more queries; until then each call looks, so a token minted on another instance
   * closes it here on the next request.
   */
  async bootstrapClosed(): Promise<boolean> {
    if (!this.bootstrapLatched && (await this.tokens.anyExists())) this.bootstrapLatched = true;
    return this.bootstrapLatched;
  }

  /**
   * When `mintedFor` is a person's (`session:<sub>`), locks their user row until the transaction ends (the
   * lock every key change of theirs and the kill switch take, UsersService.lockForKeyChanges), and refuses a
   * disabled user (403). Nothing for ADMIN_TOKEN, bootstrap and the other lineages: no offboarding targets them.
   */
  private async lockOwner(mintedFor: string, m: EntityManager): Promise<void> {
    const sub = Actors.sessionSubOf(mintedFor);
    if (sub === undefined) return;
    const user = await this.users.findOrCreateByExternalId(sub, {}, m);
    const { disabled } = await this.users.lockForKeyChanges(user.id, m);
    if (disabled) throw orgTokenError(OrgTokenErrorCode.OwnerDisabled);
  }

  /**
   * The live tokens of the lineage of `sub`'s sessions (decision 0110): those they minted, their rolls and
   * the tokens minted with them (an offboarding's report).
   */
  liveMintedBySession(sub: string, m: EntityManager): Promise<Pick<OrgToken, 'id' | 'prefix' | 'name'>[]> {
    return this.tokens.liveCreatedBy(Actors.session(sub), m);
  }

  /**
   * Revokes, in `m`'s transaction, every live token of the lineage of `sub`'s sessions (an offboarding), announced to
   * every instance on commit and audited one by one. Call `revokedLocally` with the ids once it committed.
   */
  async revokeMintedBySession(
    ctx: AuditContext,
    sub: string,
    metadata: Record<string, unknown>,
    m: EntityManager,
  ): Promise<Pick<OrgToken, 'id' | 'prefix' | 'name'>[]> {
    const revoked = await this.tokens.revokeCreatedBy(Actors.session(sub), 'offboarding', m);
    if (revoked.length === 0) return revoked;
    await this.feed.notify(
      ORG_TOKEN_REVOCATION_CHANNEL,
      revoked.map((t) => t.id),
      m,
    );
    await this.audit.recordMany(
      ctx,
      revoked.map((t) => ({
        action: OrgTokensAudit.Revoke,
        targetType: 'org_token',
        targetId: t.id,
        metadata: { prefix: t.prefix, ...metadata },
      })),
      m,
    );
    await this.events.emitMany(
      m,
      revoked.map((t) => ({
        type: 'org_token.revoked',
        data: { tokenId: t.id, prefix: t.prefix, name: t.name, reason: 'offboarding' },
      })),
    );
    return revoked;
  }

  /** Drops this instance's cached verifications of `ids` (after the revoking transaction committed). */
  revokedLocally(ids: readonly string[]): void {
    if (ids.length > 0) this.feed.revokedLocally(ORG_TOKEN_REVOCATION_CHANNEL, ids);
  }

  /** Resolves once every `last_used_at` write queued so far has finished (shutdown, tests). */
  settle(): Promise<void> {
    return this.lastUsed.flush();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.settle();
  }
}

function toDto(row: OrgToken): OrgTokenDto {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: inCatalogOrder(adminScopesOf(row.scopes)),
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    expiresAt: isoOrNull(row.expiresAt),
    lastUsedAt: isoOrNull(row.lastUsedAt),
    graceEndsAt: isoOrNull(row.graceEndsAt),
    successorId: row.successorId,
  };
}

/** The answer to a mint (or a roll): the new token, which has no last use yet, and its plaintext once. */
function minted(row: OrgToken, token: string): MintedOrgTokenDto {
  const { lastUsedAt: _neverUsed, ...view } = toDto(row);
  return { ...view, token, warning: MINT_WARNING };
}
