import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { poolHasWaiters, preparedQuery } from 'src/database/prepared-query';
import { OrgToken } from 'src/org-tokens/org-token.entity';

const LIVE = 'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())';
/** Serialises bootstrap mints across instances (a transaction-scoped advisory lock; "kso" in ASCII). */
const BOOTSTRAP_MINT_LOCK = 0x6b736f;

/** Every query on `org_tokens`. Methods that take a `manager` run in the caller's transaction. */
@Injectable()
export class OrgTokensRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  insert(
    row: Pick<OrgToken, 'name' | 'tokenHash' | 'prefix' | 'createdBy' | 'expiresAt'>,
    m: EntityManager,
  ): Promise<OrgToken> {
    const repo = m.getRepository(OrgToken);
    return repo.save(repo.create(row));
  }

  /** Live tokens (not revoked, not expired), newest first. */
  listLive(limit: number): Promise<OrgToken[]> {
    return this.dataSource
      .getRepository(OrgToken)
      .createQueryBuilder('t')
      .where('t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())')
      .orderBy('t.created_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(limit)
      .getMany();
  }

  /** Revokes token `id` if it is not revoked yet, and returns its prefix; undefined otherwise. */
  async revoke(id: string, m: EntityManager): Promise<{ prefix: string } | undefined> {
    // UPDATE ... RETURNING answers [rows, rowCount]. Concurrent revocations serialise on the row lock; the
    // later ones then match nothing.
    const [rows] = await m.query<[{ prefix: string }[], number]>(
      'UPDATE org_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING prefix',
      [id],
    );
    return rows[0];
  }

  exists(id: string, m: EntityManager): Promise<boolean> {
    return m.getRepository(OrgToken).existsBy({ id });
  }

  /**
   * The live token with this hash: one lookup on the unique partial index over live hashes, prepared once
   * per connection (it runs on every admin request).
   */
  async findLiveByHash(hash: string): Promise<Pick<OrgToken, 'id' | 'prefix' | 'expiresAt'> | undefined> {
    const rows = await preparedQuery<Pick<OrgToken, 'id' | 'prefix' | 'expiresAt'>>(
      this.dataSource,
      'keysmith_org_token_verify',
      `SELECT id, prefix, expires_at AS "expiresAt" FROM org_tokens WHERE token_hash = $1 AND ${LIVE}`,
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

  /** The live tokens `createdBy` minted (an offboarding's report), newest first. */
  liveCreatedBy(createdBy: string, m: EntityManager): Promise<Pick<OrgToken, 'id' | 'prefix' | 'name'>[]> {
    return m.query(
      `SELECT id, prefix, name FROM org_tokens WHERE created_by = $1 AND ${LIVE}
        ORDER BY created_at DESC, id DESC`,
      [createdBy],
    );
  }

  /** Revokes every live token `createdBy` minted; those tokens. */
  async revokeCreatedBy(
    createdBy: string,
    m: EntityManager,
  ): Promise<Pick<OrgToken, 'id' | 'prefix' | 'name'>[]> {
    const [rows] = await m.query<
      [(Pick<OrgToken, 'id' | 'prefix' | 'name'> & { createdAt: Date })[], number]
    >(
      `UPDATE org_tokens SET revoked_at = now() WHERE created_by = $1 AND ${LIVE}
       RETURNING id, prefix, name, created_at AS "createdAt"`,
      [createdBy],
    );
    return rows
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map(({ createdAt: _createdAt, ...row }) => row);
  }
}
