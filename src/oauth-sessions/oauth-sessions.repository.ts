import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { OAuthSessionStatus } from 'src/oauth-sessions/oauth-session.entity';

/** Statuses in which a session still holds, or may still receive, a provider key. */
const LIVE = ['pending', 'exchanging', 'complete'];

/** A session a callback has claimed (pending → exchanging), with what the exchange needs. */
export interface ClaimedSession {
  id: string;
  userId: string;
  providerId: string;
  providerName: string;
  apiBase: string;
}

/** What a callback that could not claim a session reads to say why. */
export interface SessionByState {
  id: string;
  userId: string;
  providerId: string;
  status: OAuthSessionStatus;
  /** Past its expiry (by the database's clock). */
  expired: boolean;
  providerSlug: string;
  providerName: string;
  providerEnabled: boolean;
  userDisabled: boolean;
}

/** A session as its user's poll sees it. */
export interface OwnedSession {
  id: string;
  status: OAuthSessionStatus;
  failureReason: string | null;
  expired: boolean;
  providerId: string;
}

/** A complete session locked for its confirmation: what a poll with a completion code needs. */
export interface LockedSession {
  id: string;
  status: OAuthSessionStatus;
  expired: boolean;
  completionCodeHash: string | null;
  providerKey: Buffer | null;
  encKeyVersion: number | null;
}

/**
 * Every query on `oauth_sessions`. State changes are single conditional UPDATEs: whichever request's UPDATE
 * matches first wins, the others match nothing. Methods that take a `manager` run in the caller's transaction.
 */
@Injectable()
export class OAuthSessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(
    row: { userId: string; providerId: string; stateHash: string; ttlSeconds: number },
    m: EntityManager,
  ): Promise<{ id: string; expiresAt: Date }> {
    const [inserted] = await m.query<{ id: string; expiresAt: Date }[]>(
      `INSERT INTO oauth_sessions (user_id, billing_provider_id, state_hash, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))
       RETURNING id, expires_at AS "expiresAt"`,
      [row.userId, row.providerId, row.stateHash, row.ttlSeconds],
    );
    return inserted!;
  }

  /**
   * Claims the pending, unexpired session of `stateHash` for one callback (pending → exchanging), when it
   * belongs to the enabled provider `slug` and its user is not disabled. Two callbacks with the same state:
   * the second waits for the first's row lock, then no longer matches.
   */
  async claim(stateHash: string, slug: string): Promise<ClaimedSession | undefined> {
    const [rows] = await this.dataSource.query<[ClaimedSession[], number]>(
      `UPDATE oauth_sessions s SET status = 'exchanging'
         FROM billing_providers p, users u
        WHERE s.state_hash = $1 AND s.status = 'pending' AND s.expires_at > now()
          AND p.id = s.billing_provider_id AND p.slug = $2 AND p.enabled
          AND u.id = s.user_id AND u.disabled_at IS NULL
       RETURNING s.id, s.user_id AS "userId", p.id AS "providerId", p.name AS "providerName",
                 p.api_base AS "apiBase"`,
      [stateHash, slug],
    );
    return rows[0];
  }

  async findByState(stateHash: string): Promise<SessionByState | undefined> {
    const rows = await this.dataSource.query<SessionByState[]>(
      `SELECT s.id, s.user_id AS "userId", s.billing_provider_id AS "providerId", s.status,
              s.expires_at <= now() AS expired, p.slug AS "providerSlug", p.name AS "providerName",
              p.enabled AS "providerEnabled", u.disabled_at IS NOT NULL AS "userDisabled"
         FROM oauth_sessions s
         JOIN billing_providers p ON p.id = s.billing_provider_id
         JOIN users u ON u.id = s.user_id
        WHERE s.state_hash = $1`,
      [stateHash],
    );
    return rows[0];
  }

  /**
   * Completes a claimed session with its encrypted key, unless it expired meanwhile. True when it did.
   */
  async complete(
    id: string,
    key: { ciphertext: Buffer; keyVersion: number },
    completionCodeHash: string,
    m: EntityManager,
  ): Promise<boolean> {
    const [rows] = await m.query<[unknown[], number]>(
      `UPDATE oauth_sessions
          SET status = 'complete', provider_key = $2, enc_key_version = $3, completion_code_hash = $4,
              completed_at = now()
        WHERE id = $1 AND status = 'exchanging' AND expires_at > now()
       RETURNING id`,
      [id, key.ciphertext, key.keyVersion, completionCodeHash],
    );
    return rows.length > 0;
  }

  /** Fails the session (erasing any key) if it is still in one of `from`; true when it did. */
  async fail(
    id: string,
    from: readonly OAuthSessionStatus[],
    reason: string,
    m: EntityManager = this.dataSource.manager,
  ): Promise<boolean> {
    const [rows] = await m.query<[unknown[], number]>(
      `UPDATE oauth_sessions
          SET status = 'failed', failure_reason = $3, provider_key = NULL, enc_key_version = NULL
        WHERE id = $1 AND status = ANY($2::text[])
       RETURNING id`,
      [id, from, reason],
    );
    return rows.length > 0;
  }

  /** Marks the session expired (erasing any key) if it is live and past its expiry. */
  async expire(id: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE oauth_sessions SET status = 'expired', provider_key = NULL, enc_key_version = NULL
        WHERE id = $1 AND status = ANY($2::text[]) AND expires_at <= now()`,
      [id, LIVE],
    );
  }

  /** The session `id` of `userId` for the provider `slug`; undefined for anyone else's or none. */
  async findOwned(id: string, userId: string, slug: string): Promise<OwnedSession | undefined> {
    const rows = await this.dataSource.query<OwnedSession[]>(
      `SELECT s.id, s.status, s.failure_reason AS "failureReason", s.expires_at <= now() AS expired,
              s.billing_provider_id AS "providerId"
         FROM oauth_sessions s
         JOIN billing_providers p ON p.id = s.billing_provider_id
        WHERE s.id = $1 AND s.user_id = $2 AND p.slug = $3`,
      [id, userId, slug],
    );
    return rows[0];
  }

  /**
   * The session `id` of `userId`, locked FOR UPDATE in the caller's transaction: polls that present a code
   * for the same session take turns, so wrong codes are counted one after the other and one redemption at
   * most sees the session complete.
   */
  async lockOwned(id: string, userId: string, m: EntityManager): Promise<LockedSession | undefined> {
    const rows = await m.query<LockedSession[]>(
      `SELECT id, status, expires_at <= now() AS expired, completion_code_hash AS "completionCodeHash",
              provider_key AS "providerKey", enc_key_version AS "encKeyVersion"
         FROM oauth_sessions WHERE id = $1 AND user_id = $2 FOR UPDATE`,
      [id, userId],
    );
    return rows[0];
  }

  /** Counts one wrong completion code on the locked session; the count now. */
  async countWrongCode(id: string, m: EntityManager): Promise<number> {
    const [rows] = await m.query<[{ completionAttempts: number }[], number]>(
      `UPDATE oauth_sessions SET completion_attempts = completion_attempts + 1 WHERE id = $1
       RETURNING completion_attempts AS "completionAttempts"`,
      [id],
    );
    return rows[0]?.completionAttempts ?? 0;
  }

  /** Marks the locked, complete session redeemed and erases its key (the caller read it under the lock). */
  async redeem(id: string, m: EntityManager): Promise<boolean> {
    const [rows] = await m.query<[unknown[], number]>(
      `UPDATE oauth_sessions
          SET status = 'redeemed', redeemed_at = now(), provider_key = NULL, enc_key_version = NULL
        WHERE id = $1 AND status = 'complete' AND expires_at > now()
       RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }

  /** Marks every live session past its expiry expired, erasing any key it held; how many. */
  async expireAll(m: EntityManager): Promise<number> {
    const [, count] = await m.query<[unknown[], number]>(
      `UPDATE oauth_sessions SET status = 'expired', provider_key = NULL, enc_key_version = NULL
        WHERE status = ANY($1::text[]) AND expires_at <= now()`,
      [LIVE],
    );
    return count;
  }

  /** Deletes up to `limit` sessions that expired more than `retentionSeconds` ago; how many. */
  async deleteExpiredBefore(retentionSeconds: number, limit: number, m: EntityManager): Promise<number> {
    const [, count] = await m.query<[unknown[], number]>(
      `DELETE FROM oauth_sessions WHERE id IN (
         SELECT id FROM oauth_sessions WHERE expires_at <= now() - make_interval(secs => $1) LIMIT $2)`,
      [retentionSeconds, limit],
    );
    return count;
  }

  /** How many of the user's sessions are live: pending, exchanging, or complete and unredeemed. */
  async countLiveOfUser(userId: string, m: EntityManager): Promise<number> {
    const [row] = await m.query<{ n: number }[]>(
      'SELECT count(*)::int AS n FROM oauth_sessions WHERE user_id = $1 AND status = ANY($2::text[])',
      [userId, LIVE],
    );
    return row?.n ?? 0;
  }

  /**
   * Fails every live session of the user with `reason`, erasing any provider key one holds (an offboarding);
   * how many. A callback mid-exchange then completes nothing (its UPDATE wants `exchanging`).
   */
  async cancelAllOfUser(userId: string, reason: string, m: EntityManager): Promise<number> {
    const [, count] = await m.query<[unknown[], number]>(
      `UPDATE oauth_sessions
          SET status = 'failed', failure_reason = $3, provider_key = NULL, enc_key_version = NULL
        WHERE user_id = $1 AND status = ANY($2::text[])`,
      [userId, LIVE, reason],
    );
    return count;
  }
}
