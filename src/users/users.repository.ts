import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { User } from 'src/users/user.entity';

export interface UserProfile {
  email?: string | null;
  name?: string | null;
}

/** Every query on `users`. Methods that take a `manager` run in the caller's transaction. */
@Injectable()
export class UsersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  findByExternalId(externalId: string, m: EntityManager = this.dataSource.manager): Promise<User | null> {
    return m.getRepository(User).findOneBy({ externalId });
  }

  getByExternalId(externalId: string, m: EntityManager = this.dataSource.manager): Promise<User> {
    return m.getRepository(User).findOneByOrFail({ externalId });
  }

  /** Inserts the user unless one with `externalId` exists (never raises, so a transaction stays usable). */
  async insertIfMissing(externalId: string, m: EntityManager = this.dataSource.manager): Promise<void> {
    await m.query(`INSERT INTO users (external_id) VALUES ($1) ON CONFLICT (external_id) DO NOTHING`, [
      externalId,
    ]);
  }

  /**
   * Inserts the user, or updates the given profile fields (an undefined field is left alone); the write is
   * skipped when nothing changed.
   */
  async upsertProfile(
    externalId: string,
    profile: UserProfile,
    m: EntityManager = this.dataSource.manager,
  ): Promise<void> {
    await m.query(
      `INSERT INTO users (external_id, email, name) VALUES ($1, $2, $3)
       ON CONFLICT (external_id) DO UPDATE SET
         email = CASE WHEN $4 THEN EXCLUDED.email ELSE users.email END,
         name = CASE WHEN $5 THEN EXCLUDED.name ELSE users.name END,
         updated_at = now()
       WHERE ($4 AND users.email IS DISTINCT FROM EXCLUDED.email)
          OR ($5 AND users.name IS DISTINCT FROM EXCLUDED.name)`,
      [
        externalId,
        profile.email ?? null,
        profile.name ?? null,
        profile.email !== undefined,
        profile.name !== undefined,
      ],
    );
  }

  /**
   * Provisioning's upsert: inserts the user with `profile`, recording `orgId` as the org it was provisioned
   * for; or, for an existing user, writes the profile only when the user was provisioned for one of
   * `writableOrgIds` (a settings-UI user, or one provisioned for another org, keeps their email and name).
   * Answers what happened to the profile.
   */
  async provisionProfile(
    externalId: string,
    profile: UserProfile,
    orgId: string,
    writableOrgIds: readonly string[],
    m: EntityManager,
  ): Promise<'created' | 'updated' | 'kept'> {
    const rows = await m.query<{ inserted: boolean }[]>(
      `INSERT INTO users (external_id, email, name, provisioned_org_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (external_id) DO UPDATE SET
         email = CASE WHEN $5 THEN EXCLUDED.email ELSE users.email END,
         name = CASE WHEN $6 THEN EXCLUDED.name ELSE users.name END,
         updated_at = now()
       WHERE users.provisioned_org_id = ANY($7::text[])
         AND (($5 AND users.email IS DISTINCT FROM EXCLUDED.email)
           OR ($6 AND users.name IS DISTINCT FROM EXCLUDED.name))
       RETURNING (xmax = 0) AS inserted`,
      [
        externalId,
        profile.email ?? null,
        profile.name ?? null,
        orgId,
        profile.email !== undefined,
        profile.name !== undefined,
        [...writableOrgIds],
      ],
    );
    const row = rows[0];
    return row === undefined ? 'kept' : row.inserted ? 'created' : 'updated';
  }

  /**
   * Locks the user's row until the transaction ends and tells whether the user is disabled. FOR NO KEY
   * UPDATE, not FOR UPDATE: it excludes another holder of this lock, but not the FOR KEY SHARE lock that a
   * concurrent insert referencing the user takes (a key or the default project), which would deadlock.
   */
  async lockForKeyChanges(userId: string, m: EntityManager): Promise<{ disabled: boolean }> {
    const [row] = await m.query<{ disabledAt: Date | null }[]>(
      'SELECT disabled_at AS "disabledAt" FROM users WHERE id = $1 FOR NO KEY UPDATE',
      [userId],
    );
    return { disabled: row?.disabledAt != null };
  }

  findById(id: string, m: EntityManager = this.dataSource.manager): Promise<User | null> {
    return m.getRepository(User).findOneBy({ id });
  }

  /**
   * Disables the user (keeping the first `disabled_at`); the user as it is now, or null when there is none.
   * Takes the row lock every key change of the user takes (lockForKeyChanges), until the transaction ends.
   */
  async disable(id: string, m: EntityManager): Promise<User | null> {
    await m.query(
      'UPDATE users SET disabled_at = COALESCE(disabled_at, now()), updated_at = now() WHERE id = $1',
      [id],
    );
    return this.findById(id, m);
  }

  /** Enables the user; the user as it is now, or null when there is none. */
  async enable(id: string, m: EntityManager): Promise<User | null> {
    await m.query('UPDATE users SET disabled_at = NULL, updated_at = now() WHERE id = $1', [id]);
    return this.findById(id, m);
  }
}
