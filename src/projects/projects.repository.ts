import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { isUniqueViolation } from 'src/database/database-errors';
import { Project } from 'src/projects/project.entity';

/** A project as listed, with its live key count. */
export interface ProjectRow {
  id: string;
  name: string;
  isDefault: boolean;
  createdAt: Date;
  apiKeyCount: string | number;
}

/**
 * Every query on `projects`. Lookups are scoped by `userId`. Inserts use `ON CONFLICT DO NOTHING` against
 * the unique indexes (`(user_id, name)`, and `(user_id) WHERE is_default`) so racing requests never abort a
 * surrounding transaction. Methods that take a `manager` run in the caller's transaction.
 */
@Injectable()
export class ProjectsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The user's projects, default first, then oldest first, with key counts in one query: keys not revoked and
   * not rolled into another (a rolled key, in its grace or after, is counted once, as its successor).
   */
  listWithKeyCounts(userId: string, limit: number): Promise<ProjectRow[]> {
    return this.dataSource.query(
      `SELECT p.id, p.name, p.is_default AS "isDefault", p.created_at AS "createdAt",
              COUNT(k.id) AS "apiKeyCount"
         FROM projects p
         LEFT JOIN api_keys k ON k.project_id = p.id AND k.revoked_at IS NULL AND k.successor_id IS NULL
        WHERE p.user_id = $1
        GROUP BY p.id
        ORDER BY p.is_default DESC, p.created_at ASC, p.name ASC
        LIMIT $2`,
      [userId, limit],
    );
  }

  /** Inserts a (non-default) project; undefined when the user already has one with this name. */
  async insert(
    userId: string,
    name: string,
    m: EntityManager = this.dataSource.manager,
  ): Promise<ProjectRow | undefined> {
    const [row] = await m.query<ProjectRow[]>(
      `INSERT INTO projects (user_id, name) VALUES ($1, $2)
       ON CONFLICT (user_id, name) DO NOTHING
       RETURNING id, name, is_default AS "isDefault", created_at AS "createdAt", 0 AS "apiKeyCount"`,
      [userId, name],
    );
    return row;
  }

  findOwned(userId: string, id: string, m: EntityManager = this.dataSource.manager): Promise<Project | null> {
    return m.getRepository(Project).findOneBy({ id, userId });
  }

  findByName(userId: string, name: string, m: EntityManager): Promise<Project | null> {
    return m.getRepository(Project).findOneBy({ userId, name });
  }

  findDefault(userId: string, m: EntityManager): Promise<Project | null> {
    return m.getRepository(Project).findOneBy({ userId, isDefault: true });
  }

  getById(id: string, m: EntityManager): Promise<Project> {
    return m.getRepository(Project).findOneByOrFail({ id });
  }

  /** Inserts the user's default project; undefined when either unique index already holds a clash. */
  async insertDefault(userId: string, name: string, m: EntityManager): Promise<string | undefined> {
    // No conflict target: a clash on either unique index (a concurrent default, or the name) is a no-op.
    const inserted = await m.query<{ id: string }[]>(
      `INSERT INTO projects (user_id, name, is_default) VALUES ($1, $2, true)
       ON CONFLICT DO NOTHING RETURNING id`,
      [userId, name],
    );
    return inserted[0]?.id;
  }

  /**
   * Marks the user's project named `name` as the default, unless the user has one. A concurrent default makes
   * the UPDATE fail the partial unique index; a savepoint keeps that failure from aborting the caller's
   * transaction (so `m` must be a transaction's manager).
   */
  async promoteToDefault(userId: string, name: string, m: EntityManager): Promise<string | undefined> {
    await m.query('SAVEPOINT ks_promote_default');
    try {
      const rows: [{ id: string }[], number] = await m.query(
        `UPDATE projects SET is_default = true
          WHERE user_id = $1 AND name = $2 AND NOT is_default
            AND NOT EXISTS (SELECT 1 FROM projects d WHERE d.user_id = $1 AND d.is_default)
          RETURNING id`,
        [userId, name],
      );
      await m.query('RELEASE SAVEPOINT ks_promote_default');
      return rows[0]?.[0]?.id;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      await m.query('ROLLBACK TO SAVEPOINT ks_promote_default');
      return undefined;
    }
  }
}
