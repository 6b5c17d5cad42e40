import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { User } from 'src/api-keys/user.entity';

export interface UserProfile {
  email?: string | null;
  name?: string | null;
}

/**
 * Users exist from the first time their identity (a session `sub`, a provisioning `externalId`) is seen.
 * Creation leans on the unique `external_id` constraint, never on check-then-insert, so two first requests
 * racing each other end with one row.
 */
@Injectable()
export class UsersService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The user with `externalId`, created if missing. A `profile` field that is given (not undefined)
   * overwrites the stored one; absent fields leave it alone. Pass the transaction's `manager` to take part
   * in it: nothing here raises a constraint error, so it never aborts the caller's transaction.
   */
  async findOrCreateByExternalId(
    externalId: string,
    profile: UserProfile = {},
    manager: EntityManager = this.dataSource.manager,
  ): Promise<User> {
    const repo = manager.getRepository(User);
    const hasProfile = profile.email !== undefined || profile.name !== undefined;

    if (!hasProfile) {
      // The hot path (every session request): one indexed read, no write.
      const existing = await repo.findOneBy({ externalId });
      if (existing) return existing;
      await manager.query(
        `INSERT INTO users (external_id) VALUES ($1) ON CONFLICT (external_id) DO NOTHING`,
        [externalId],
      );
      return repo.findOneByOrFail({ externalId });
    }

    // With a profile, the upsert also refreshes it; the WHERE skips the write when nothing changed.
    await manager.query(
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
    return repo.findOneByOrFail({ externalId });
  }
}
