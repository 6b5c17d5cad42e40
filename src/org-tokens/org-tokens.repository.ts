import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { poolHasWaiters, preparedQuery } from 'src/database/prepared-query';
import { OrgToken, type OrgTokenRevokedReason } from 'src/org-tokens/org-token.entity';

/** Not revoked, not expired, and not past the grace of a roll. */
const LIVE =
  'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND (grace_ends_at IS NULL OR grace_ends_at > now())';
/** Serialises bootstrap mints across instances (a transaction-scoped advisory lock; "kso" in ASCII). */
const BOOTSTRAP_MINT_LOCK = 0x6b736f;

/** What verifying a token reads: `endsAt` is when it stops working (expiry or grace end), null: never. */
export interface VerifiedRow {
  id: string;
  prefix: string;
  scopes: string[];
  endsAt: Date | null;
}

/** What a roll reads of the old token. */
export interface RollCandidate {
  name: string | null;
  scopes: string[];
  expiresAt: Date | null;
  revoked: boolean;
  expired: boolean;
  rolled: boolean;
}

/** A token that matched a report, whatever its state, and whether this report revoked it. */
export interface ReportedTokenMatch {
  id: string;
  prefix: string;
  hash: string;
  /** False when it was revoked already (by anyone, a concurrent report included). */
  revokedNow: boolean;
}

/** Every query on `org_tokens`. Methods that take a `manager` run in the caller's transaction. */
@Injectable()
export class OrgTokensRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  insert(
    row: Pick<OrgToken, 'name' | 'tokenHash' | 'prefix' | 'scopes' | 'createdBy' | 'mintedFor' | 'expiresAt'>,
    m: EntityManager,
  ): Promise<OrgToken> {
    const repo = m.getRepository(OrgToken);
    return repo.save(repo.create(row));
  }

  /** Live tokens (not revoked, not expired, not past a roll's grace), newest first. */
  listLive(limit: number): Promise<OrgToken[]> {
    return this.dataSource
      .getRepository(OrgToken)
      .createQueryBuilder('t')
      .where(LIVE)
      .orderBy('t.created_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(limit)
      .getMany();
  }

  /**
   * Revokes token `id` with reason `admin` if it is not revoked yet (a rolled token in its grace included: its
   * grace ends now), and returns its prefix; undefined otherwise, and for a rolled token whose grace is over
   * (it stopped working then, rolled away: nothing to revoke, no audit row).
   */
  async revoke(id: string, m: EntityManager): Promise<{ prefix: string } | undefined> {
    // UPDATE ... RETURNING answers [rows, rowCount]. Concurrent revocations serialise on the row lock; the
    // later ones then match nothing.
    const [rows] = await m.query<[{ prefix: string }[], number]>(
      `UPDATE org_tokens SET revoked_at = now(), revoked_reason = 'admin'
        WHERE id = $1 AND revoked_at IS NULL AND (grace_ends_at IS NULL OR grace_ends_at > now())
        RETURNING prefix`,
      [id],
    );
    return rows[0];
  }

  /**
   * Token `id` with what a roll checks, its row locked until the transaction ends: concurrent rolls (and
   * revocations) of one token take turns, and the later ones see what the first did.
   */
  async lockForRoll(id: string, m: EntityManager): Promise<RollCandidate | undefined> {
    const rows = await m.query<RollCandidate[]>(
      `SELECT name, scopes, expires_at AS "expiresAt", revoked_at IS NOT NULL AS revoked,
              expires_at IS NOT NULL AND expires_at <= now() AS expired, successor_id IS NOT NULL AS rolled
         FROM org_tokens WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return rows[0];
  }

  /**
   * Marks token `id` rolled into `successorId`: it works until the earlier of its expiry and now + grace
   * (LEAST ignores a NULL expiry). Answers that instant.
   */
  async markRolled(id: string, successorId: string, graceSeconds: number, m: EntityManager): Promise<Date> {
    const [rows] = await m.query<[{ graceEndsAt: Date }[], number]>(
      `UPDATE org_tokens
          SET successor_id = $2, grace_ends_at = LEAST(expires_at, now() + make_interval(secs => $3))
        WHERE id = $1 AND successor_id IS NULL
        RETURNING grace_ends_at AS "graceEndsAt"`,
      [id, successorId, graceSeconds],
    );
    // The row is locked and was checked unrolled in this transaction (lockForRoll).
    return rows[0]!.graceEndsAt;
  }

  /**
   * Revokes, with `reason`, every token among `hashes` (SHA-256 of reported plaintexts) that is not revoked
   * yet, expired ones included; returns every match, revoked before or now. One statement for the batch.
   * Concurrent reports of one token revoke it once (`revokedNow` is false for the later ones).
   */
  async revokeReported(
    hashes: readonly string[],
    reason: OrgTokenRevokedReason,
    m: EntityManager,
  ): Promise<ReportedTokenMatch[]> {
    if (hashes.length === 0) return [];
    return m.query<ReportedTokenMatch[]>(
      `WITH found AS (
         SELECT id, prefix, token_hash FROM org_tokens WHERE token_hash = ANY($1::bpchar[])
       ), revoked AS (
         UPDATE org_tokens t SET revoked_at = now(), revoked_reason = $2
           FROM found f
          WHERE t.id = f.id AND t.revoked_at IS NULL
         RETURNING t.id
       )
       SELECT f.id, f.prefix, f.token_hash AS "hash", (r.id IS NOT NULL) AS "revokedNow"
         FROM found f LEFT JOIN revoked r ON r.id = f.id`,
      [hashes, reason],
    );
  }

  exists(id: string, m: EntityManager): Promise<boolean> {
    return m.getRepository(OrgToken).existsBy({ id });
  }

  /**
   * The live token with this hash: one lookup on the unique partial index over live hashes, prepared once
   * per connection (it runs on every admin request).
   */
  async findLiveByHash(hash: string): Promise<VerifiedRow | undefined> {
    const rows = await preparedQuery<VerifiedRow>(
      this.dataSource,
      'keysmith_org_token_verify',
      `SELECT id, prefix, scopes, LEAST(expires_at, grace_ends_at) AS "endsAt"
         FROM org_tokens WHERE token_hash = $1 AND ${LIVE}`,
      [hash],
    );
    return rows[0];
  }

  /** Whether any token exists or has ever existed (revoked and expired rows are kept). */
  async anyExists(m: EntityManager = this.dataSource.manager): Promise<boolean> {
    const rows = await m.query<unknown[]>('SELECT 1 FROM org_tokens LIMIT 1');
    return rows.length > 0;
  }

  /**
   * Serialises bootstrap mints until the transaction ends: parallel anonymous mints all saw an empty table,
   * so one at a time, and only the first finds it still empty.
   */
  async lockBootstrapMints(m: EntityManager): Promise<void> {
    await m.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_MINT_LOCK]);
  }

  /** Records a use of tokens `ids`, skipping those written less than `precisionSeconds` ago. */
  async markUsed(ids: string[], precisionSeconds: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE org_tokens SET last_used_at = now()
        WHERE id = ANY($1::uuid[])
          AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
      [ids, precisionSeconds],
    );
  }

  /** Whether requests are queueing for a pooled connection (last-use writes wait for a quieter moment). */
  poolBusy(): boolean {
    return poolHasWaiters(this.dataSource);
  }

  /**
   * Whose token `id` is (`minted_for`, decision 0110), or undefined. Read without a lock: it never changes once
   * written.
   */
  async mintedFor(id: string, m: EntityManager): Promise<string | undefined> {
    const rows = await m.query<{ mintedFor: string }[]>(
      'SELECT minted_for AS "mintedFor" FROM org_tokens WHERE id = $1',
      [id],
    );
    return rows[0]?.mintedFor;
  }

  /** The live tokens of `createdBy`'s lineage (`minted_for`; an offboarding's report), newest first. */
  liveCreatedBy(createdBy: string, m: EntityManager): Promise<Pick<OrgToken, 'id' | 'prefix' | 'name'>[]> {
    return m.query(
      `SELECT id, prefix, name FROM org_tokens WHERE minted_for = $1 AND ${LIVE}
        ORDER BY created_at DESC, id DESC`,
      [createdBy],
    );
  }

  /**
   * Revokes every live token of `createdBy`'s lineage (`minted_for`: rolls and token-minted tokens too), with
   * `reason` (an offboarding); those tokens. A rolled token past its grace is not live and keeps its row as it is.
   */
  async revokeCreatedBy(
    createdBy: string,
    reason: OrgTokenRevokedReason,
    m: EntityManager,
  ): Promise<Pick<OrgToken, 'id' | 'prefix' | 'name'>[]> {
    const [rows] = await m.query<
      [(Pick<OrgToken, 'id' | 'prefix' | 'name'> & { createdAt: Date })[], number]
    >(
      `UPDATE org_tokens SET revoked_at = now(), revoked_reason = $2 WHERE minted_for = $1 AND ${LIVE}
       RETURNING id, prefix, name, created_at AS "createdAt"`,
      [createdBy, reason],
    );
    return rows
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map(({ createdAt: _createdAt, ...row }) => row);
  }
}
