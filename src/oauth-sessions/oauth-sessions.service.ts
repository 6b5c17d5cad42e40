import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, type AuditContext } from 'src/audit/audit.service';
import { EventsOutbox } from 'src/events/events-outbox';
import type { SessionPrincipal } from 'src/auth/principal';
import { BillingProvidersService } from 'src/billing-providers/billing-providers.service';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';
import { DecryptionFailedError, encryptionKeyMissing } from 'src/crypto/encryption/encryption.errors';
import { EncryptionService } from 'src/crypto/encryption/encryption.service';
import { HostResolver } from 'src/http/host-resolver';
import { outboundAddressRule } from 'src/http/outbound-address';
import type { OutboundTarget } from 'src/http/outbound-request';
import { iso } from 'src/validation/instants';
import { buildAuthUrl, callbackUrl } from 'src/oauth-sessions/auth-url';
import { CallbackOutcome, renderCallbackPage, type CallbackPage } from 'src/oauth-sessions/callback-page';
import type {
  OAuthSessionResultDto,
  StartOAuthSessionResponseDto,
} from 'src/oauth-sessions/dto/oauth-session.dto';
import type { OAuthSessionStatus } from 'src/oauth-sessions/oauth-session.entity';
import { OAuthSessionsAudit } from 'src/oauth-sessions/oauth-sessions.audit';
import { oauthSessionsConfig, type OAuthSessionsConfig } from 'src/oauth-sessions/oauth-sessions.config';
import { providerKeyField } from 'src/oauth-sessions/oauth-sessions.encrypted-table';
import {
  OAuthFailureReason,
  oauthSessionsError,
  OAuthSessionsErrorCode,
} from 'src/oauth-sessions/oauth-sessions.errors';
import {
  OAuthSessionsRepository,
  type ClaimedSession,
  type LockedSession,
  type OwnedSession,
} from 'src/oauth-sessions/oauth-sessions.repository';
import { exchangeProviderToken } from 'src/oauth-sessions/provider-exchange';
import type { User } from 'src/users/user.entity';
import { UsersService } from 'src/users/users.service';

/** 32 random bytes, base64url: 256 bits, 43 characters. */
const STATE_BYTES = 32;
const STATE_FORMAT = /^[A-Za-z0-9_-]{43}$/;
/** A bearer token as a provider may send it: visible ASCII, bounded. Anything else is no token. */
const TOKEN_FORMAT = /^[\x21-\x7e]{1,4096}$/;
/** Billing provider slugs (BILLING_PROVIDERS): anything else names no provider. */
const SLUG_FORMAT = /^[a-z0-9][a-z0-9-]{0,62}$/;
const TARGET = 'oauth_session';
/** The completion code: 32 random bytes, base64url (256 bits). Only its SHA-256 is stored. */
const COMPLETION_CODE_BYTES = 32;
/** Wrong completion codes a session takes; the last one fails it (API.md: five). */
export const MAX_WRONG_COMPLETION_CODES = 5;

const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/** Two SHA-256 hex digests compared in constant time. */
function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

/**
 * The provider login handoff. Start: a session row with the hash of a random state. Callback: the state
 * claims the session (pending → exchanging) in one UPDATE, so only one callback ever calls the provider;
 * the provider's token is exchanged for its API key, which is encrypted and stored, with the hash of a fresh
 * one-time completion code, by another conditional UPDATE (exchanging → complete). The success page hands
 * the code to the settings UI window that opened it (decision 0022). Result: the session's own user polls
 * with the code; under the row's lock a wrong code is counted (the fifth fails the session) and the right
 * one redeems the key and erases it, so exactly one poll gets it. Every step is a database state change, so
 * any instance serves any step.
 */
@Injectable()
export class OAuthSessionsService {
  private readonly logger = new Logger('OAuthSessions');
  private readonly outbound: OutboundTarget;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(oauthSessionsConfig.KEY) private readonly config: OAuthSessionsConfig,
    @Inject(APP_CONFIG) private readonly app: AppConfig,
    private readonly sessions: OAuthSessionsRepository,
    private readonly users: UsersService,
    private readonly providers: BillingProvidersService,
    private readonly encryption: EncryptionService,
    private readonly audit: AuditService,
    resolver: HostResolver,
    private readonly events: EventsOutbox,
  ) {
    this.outbound = {
      resolver,
      refuse: outboundAddressRule({
        what: "the provider's apiBase",
        allowLoopback: config.exchangeAllowLoopback,
        allowedHosts: config.exchangeAllowedHosts,
      }),
    };
  }

  async start(
    principal: SessionPrincipal,
    slug: string,
    ctx: AuditContext,
  ): Promise<StartOAuthSessionResponseDto> {
    const provider = SLUG_FORMAT.test(slug) ? await this.providers.findEnabledBySlug(slug) : null;
    if (!provider) throw oauthSessionsError(OAuthSessionsErrorCode.ProviderNotFound);
    // Refused before anything is written: a session whose key could not be stored would only fail later.
    if (!this.encryption.available) throw encryptionKeyMissing();
    const user = await this.activeUser(principal);

    const state = randomBytes(STATE_BYTES).toString('base64url');
    const session = await this.dataSource.transaction(async (m) => {
      const row = await this.sessions.insert(
        {
          userId: user.id,
          providerId: provider.id,
          stateHash: sha256(state),
          ttlSeconds: this.config.ttlSeconds,
        },
        m,
      );
      await this.audit.record(
        ctx,
        {
          action: OAuthSessionsAudit.Start,
          targetType: TARGET,
          targetId: row.id,
          metadata: { userId: user.id, billingProviderId: provider.id, provider: provider.slug },
        },
        m,
      );
      return row;
    });
    return {
      loginSessionId: session.id,
      authUrl: buildAuthUrl(
        provider.authUrl,
        state,
        callbackUrl(this.app.oauthCallbackOrigin, provider.slug),
      ),
      expiresAt: iso(session.expiresAt),
      pollIntervalSeconds: this.config.pollIntervalSeconds,
    };
  }

  /**
   * The provider's redirect. Never throws: every outcome is a page, a database failure before the claim
   * included (503, nothing used up). The user is the session's; nothing in the query but `state` and `token`
   * is read, and neither is logged, audited or echoed.
   */
  async callback(
    slug: string,
    stateParam: unknown,
    tokenParam: unknown,
    ctx: AuditContext,
  ): Promise<CallbackPage> {
    // Only a configured provider's name (from the session's row) is ever written: nothing from the URL.
    const page = (outcome: CallbackOutcome, provider = 'the provider'): CallbackPage =>
      renderCallbackPage(outcome, provider, ctx.requestId);
    const state = typeof stateParam === 'string' && STATE_FORMAT.test(stateParam) ? stateParam : undefined;
    // A slug that is not one names no provider, and is never sent to the database (a NUL there was a 503 and
    // an error log, found by the fuzzer).
    if (!state || !SLUG_FORMAT.test(slug)) return page(CallbackOutcome.UnknownState);
    // Nothing is claimed without a key to store the result under: the same link works once one is set.
    if (!this.encryption.available) return page(CallbackOutcome.Unavailable);
    const stateHash = sha256(state);

    let claimed: ClaimedSession | undefined;
    try {
      claimed = await this.sessions.claim(stateHash, slug);
      if (!claimed) {
        const { outcome, provider } = await this.whyNotClaimed(stateHash, slug, ctx);
        return page(outcome, provider);
      }
    } catch (err) {
      // Nothing was consumed (or only an expiry recorded): the same link can be tried again.
      this.logger.error({ err }, 'provider callback failed before claiming a session');
      return page(CallbackOutcome.Unavailable);
    }
    const provider = claimed.providerName;
    try {
      const token = typeof tokenParam === 'string' && TOKEN_FORMAT.test(tokenParam) ? tokenParam : undefined;
      if (!token) {
        await this.failClaimed(claimed, OAuthFailureReason.MissingToken, ctx);
        return page(CallbackOutcome.MissingToken, provider);
      }
      const exchanged = await exchangeProviderToken(
        claimed.apiBase,
        token,
        this.config.exchangeTimeoutMs,
        this.outbound,
      );
      if (!exchanged.ok) {
        this.logger.warn(
          {
            sessionId: claimed.id,
            billingProviderId: claimed.providerId,
            reason: exchanged.reason,
            httpStatus: exchanged.httpStatus,
          },
          'provider exchange failed',
        );
        await this.failClaimed(claimed, exchanged.reason, ctx, { httpStatus: exchanged.httpStatus ?? null });
        return page(CallbackOutcome.ExchangeFailed, provider);
      }
      const encrypted = this.encryption.encrypt(
        exchanged.apiKey,
        providerKeyField({ id: claimed.id, userId: claimed.userId }),
      );
      const completionCode = randomBytes(COMPLETION_CODE_BYTES).toString('base64url');
      const completed = await this.dataSource.transaction(async (m) => {
        if (!(await this.sessions.complete(claimed.id, encrypted, sha256(completionCode), m))) return false;
        await this.audit.record(
          ctx,
          {
            action: OAuthSessionsAudit.Complete,
            targetType: TARGET,
            targetId: claimed.id,
            metadata: { userId: claimed.userId, billingProviderId: claimed.providerId },
          },
          m,
        );
        await this.events.emit(m, 'oauth_session.completed', {
          sessionId: claimed.id,
          userId: claimed.userId,
          billingProviderId: claimed.providerId,
        });
        return true;
      });
      if (!completed) {
        // It expired while the provider answered: nothing outlives the session's expiry, its key included.
        await this.sessions.expire(claimed.id);
        return page(CallbackOutcome.Expired, provider);
      }
      return renderCallbackPage(CallbackOutcome.Success, provider, ctx.requestId, {
        message: { type: 'keysmith:provider-linked', loginSessionId: claimed.id, completionCode },
        targetOrigins: this.app.settingsUiOrigins,
      });
    } catch (err) {
      this.logger.error(
        { err, sessionId: claimed.id },
        'provider callback failed after claiming the session',
      );
      await this.sessions
        .fail(claimed.id, ['exchanging'], OAuthFailureReason.Internal)
        .catch(() => undefined);
      return page(CallbackOutcome.Internal, provider);
    }
  }

  /**
   * The session's own user's poll. Once the callback has succeeded, the key goes only to a poll with the
   * session's completion code: without one the answer is `awaiting_confirmation`; a wrong one is counted
   * (the fifth fails the session and erases the key); the right one redeems, to exactly one poll. Another
   * user's session, or one of another provider, is 404 like a missing one.
   */
  async result(
    principal: SessionPrincipal,
    slug: string,
    loginSessionId: string,
    completionCode: string | undefined,
    ctx: AuditContext,
  ): Promise<OAuthSessionResultDto> {
    const user = await this.activeUser(principal);
    const found = SLUG_FORMAT.test(slug)
      ? await this.sessions.findOwned(loginSessionId, user.id, slug)
      : undefined;
    if (!found) throw oauthSessionsError(OAuthSessionsErrorCode.SessionNotFound);
    if (found.status === 'complete' && !found.expired && completionCode) {
      const answer = await this.confirm(found, user.id, completionCode, ctx);
      if (answer) return answer;
      // The session changed between the read and the lock (redeemed, failed or expired meanwhile).
      const now = await this.sessions.findOwned(loginSessionId, user.id, slug);
      if (!now) throw oauthSessionsError(OAuthSessionsErrorCode.SessionNotFound);
      return this.view(now);
    }
    return this.view(found);
  }

  private async view(s: OwnedSession): Promise<OAuthSessionResultDto> {
    const live: OAuthSessionStatus[] = ['pending', 'exchanging', 'complete'];
    if (live.includes(s.status) && s.expired) {
      await this.sessions.expire(s.id);
      return { status: 'expired' };
    }
    switch (s.status) {
      case 'pending':
      case 'exchanging':
        return { status: 'pending' };
      // The callback succeeded; the key waits for the poll with the completion code.
      case 'complete':
        return { status: 'awaiting_confirmation' };
      case 'redeemed':
        return { status: 'redeemed' };
      case 'expired':
        return { status: 'expired' };
      case 'failed':
        return { status: 'failed', reason: s.failureReason ?? OAuthFailureReason.Internal };
    }
  }

  /**
   * A poll with a completion code, under the session row's lock (polls of one session take turns, so five
   * concurrent wrong codes are five counts, and a sixth finds the session failed). The right code redeems
   * in the same transaction as the decryption: if the key cannot be decrypted here (its version is not
   * configured, or this instance's secret for it differs), everything rolls back, the row keeps its key and
   * its status for an instance that can, and this poll gets 503 `encryption_key_missing`. A decryption
   * failure never erases data. Undefined when the session is no longer complete.
   */
  private async confirm(
    s: OwnedSession,
    userId: string,
    code: string,
    ctx: AuditContext,
  ): Promise<OAuthSessionResultDto | undefined> {
    if (!this.encryption.available) throw encryptionKeyMissing();
    const presented = sha256(code);
    try {
      return await this.dataSource.transaction(async (m) => {
        const locked = await this.sessions.lockOwned(s.id, userId, m);
        if (!locked || locked.status !== 'complete' || locked.expired) return undefined;
        if (!locked.completionCodeHash || !sameDigest(presented, locked.completionCodeHash))
          return this.wrongCode(s, userId, ctx, m);
        const apiKey = this.decryptKey(locked, userId);
        if (!(await this.sessions.redeem(s.id, m))) return undefined;
        await this.audit.record(
          ctx,
          {
            action: OAuthSessionsAudit.Redeem,
            targetType: TARGET,
            targetId: s.id,
            metadata: { userId, billingProviderId: s.providerId },
          },
          m,
        );
        return { status: 'complete', apiKey };
      });
    } catch (err) {
      if (err instanceof DecryptionFailedError) {
        this.logger.error(
          { sessionId: s.id, err: { name: err.name, message: err.message } },
          "a provider key could not be decrypted on this instance: left as it is (check this instance's encryption secrets)",
        );
        throw encryptionKeyMissing();
      }
      throw err;
    }
  }

  private decryptKey(locked: LockedSession, userId: string): string {
    if (!locked.providerKey || locked.encKeyVersion === null)
      throw new DecryptionFailedError('oauth_sessions.provider_key');
    return this.encryption.decrypt(
      locked.providerKey,
      locked.encKeyVersion,
      providerKeyField({ id: locked.id, userId }),
    );
  }

  /** Counts a wrong code on the locked session; the fifth fails it (erasing the key), audited. */
  private async wrongCode(
    s: OwnedSession,
    userId: string,
    ctx: AuditContext,
    m: EntityManager,
  ): Promise<OAuthSessionResultDto> {
    const attempts = await this.sessions.countWrongCode(s.id, m);
    if (attempts < MAX_WRONG_COMPLETION_CODES) return { status: 'awaiting_confirmation' };
    const reason = OAuthFailureReason.CompletionCodeRejected;
    await this.sessions.fail(s.id, ['complete'], reason, m);
    await this.audit.record(
      ctx,
      {
        action: OAuthSessionsAudit.Fail,
        targetType: TARGET,
        targetId: s.id,
        metadata: { userId, billingProviderId: s.providerId, reason },
      },
      m,
    );
    return { status: 'failed', reason };
  }

  /** Why a callback's state claimed nothing, marking an expired session expired on the way. */
  private async whyNotClaimed(
    stateHash: string,
    slug: string,
    ctx: AuditContext,
  ): Promise<{ outcome: CallbackOutcome; provider?: string }> {
    const s = await this.sessions.findByState(stateHash);
    // Another provider's state looks exactly like an unknown one.
    if (!s || s.providerSlug !== slug || !s.providerEnabled) return { outcome: CallbackOutcome.UnknownState };
    const provider = s.providerName;
    const live: OAuthSessionStatus[] = ['pending', 'exchanging'];
    if (s.expired && live.includes(s.status)) {
      await this.sessions.expire(s.id);
      return { outcome: CallbackOutcome.Expired, provider };
    }
    if (s.status === 'expired') return { outcome: CallbackOutcome.Expired, provider };
    if (s.status === 'pending' && s.userDisabled) {
      const failed = await this.dataSource.transaction(async (m) => {
        if (!(await this.sessions.fail(s.id, ['pending'], OAuthFailureReason.UserDisabled, m))) return false;
        await this.audit.record(
          ctx,
          {
            action: OAuthSessionsAudit.Fail,
            targetType: TARGET,
            targetId: s.id,
            metadata: {
              userId: s.userId,
              billingProviderId: s.providerId,
              reason: OAuthFailureReason.UserDisabled,
            },
          },
          m,
        );
        return true;
      });
      if (failed) return { outcome: CallbackOutcome.UserDisabled, provider };
    }
    // Complete, redeemed, failed, or being exchanged by another callback right now.
    return { outcome: CallbackOutcome.AlreadyUsed, provider };
  }

  private async failClaimed(
    claimed: ClaimedSession,
    reason: OAuthFailureReason,
    ctx: AuditContext,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      if (!(await this.sessions.fail(claimed.id, ['exchanging'], reason, m))) return;
      await this.audit.record(
        ctx,
        {
          action: OAuthSessionsAudit.Fail,
          targetType: TARGET,
          targetId: claimed.id,
          metadata: { userId: claimed.userId, billingProviderId: claimed.providerId, reason, ...extra },
        },
        m,
      );
    });
  }

  /** The session's user, created on first sight; a disabled user is refused (403 identity_not_allowed). */
  private async activeUser(principal: SessionPrincipal): Promise<User> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    if (user.disabledAt) throw oauthSessionsError(OAuthSessionsErrorCode.UserDisabled);
    return user;
  }
}
