import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { apiKeysError, ApiKeysErrorCode } from 'src/api-keys/api-keys.errors';
import type { CreateProjectDto, ProjectDto, ProjectsResponseDto } from 'src/api-keys/dto/project.dto';
import { Project } from 'src/api-keys/project.entity';
import { UsersService } from 'src/api-keys/users.service';
import type { SessionPrincipal } from 'src/auth/principal';

export const DEFAULT_PROJECT_NAME = 'Default';
/** A user with more projects than a settings page can show sees the first ones (default, then oldest). */
export const PROJECT_LIST_LIMIT = 500;

interface ProjectRow {
  id: string;
  name: string;
  is_default: boolean;
  created_at: Date;
  api_key_count: string | number;
}

function toView(r: ProjectRow): ProjectDto {
  return {
    id: r.id,
    name: r.name,
    isDefault: r.is_default,
    createdAt: r.created_at.toISOString(),
    apiKeyCount: Number(r.api_key_count),
  };
}

const UNIQUE_VIOLATION = '23505';

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e?.code === UNIQUE_VIOLATION || e?.driverError?.code === UNIQUE_VIOLATION;
}

/**
 * A user's projects. Every lookup is scoped by `userId`: a project of another user is indistinguishable
 * from one that does not exist. Find-or-create leans on the unique indexes (`(user_id, name)` and the
 * partial one on `(user_id) WHERE is_default`) with `ON CONFLICT DO NOTHING` and a re-select, so racing
 * requests converge on one row and never abort a surrounding transaction.
 */
@Injectable()
export class ProjectsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly users: UsersService,
  ) {}

  /** The caller's projects, default first, then oldest first, with live key counts in one query. */
  async list(principal: SessionPrincipal): Promise<ProjectsResponseDto> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    const rows: ProjectRow[] = await this.dataSource.query(
      `SELECT p.id, p.name, p.is_default, p.created_at, COUNT(k.id) AS api_key_count
         FROM projects p
         LEFT JOIN api_keys k ON k.project_id = p.id AND k.revoked_at IS NULL
        WHERE p.user_id = $1
        GROUP BY p.id
        ORDER BY p.is_default DESC, p.created_at ASC, p.name ASC
        LIMIT ${PROJECT_LIST_LIMIT}`,
      [user.id],
    );
    return { projects: rows.map(toView) };
  }

  /** Creates a project for the caller; a name they already have is a 409. */
  async create(principal: SessionPrincipal, dto: CreateProjectDto): Promise<ProjectDto> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    const [row]: ProjectRow[] = await this.dataSource.query(
      `INSERT INTO projects (user_id, name) VALUES ($1, $2)
       ON CONFLICT (user_id, name) DO NOTHING
       RETURNING id, name, is_default, created_at, 0 AS api_key_count`,
      [user.id, dto.name],
    );
    if (!row) throw apiKeysError(ApiKeysErrorCode.ProjectNameTaken);
    return toView(row);
  }

  /** The user's project `projectId`, or 404 when it does not exist or belongs to someone else. */
  async findOwned(userId: string, projectId: string, manager?: EntityManager): Promise<Project> {
    const project = await (manager ?? this.dataSource.manager)
      .getRepository(Project)
      .findOneBy({ id: projectId, userId });
    if (!project) throw apiKeysError(ApiKeysErrorCode.ProjectNotFound);
    return project;
  }

  /** The user's project called `name`, created (not as default) if missing. */
  async findOrCreateByName(userId: string, name: string, manager?: EntityManager): Promise<Project> {
    const m = manager ?? this.dataSource.manager;
    const repo = m.getRepository(Project);
    const existing = await repo.findOneBy({ userId, name });
    if (existing) return existing;
    await m.query(
      `INSERT INTO projects (user_id, name) VALUES ($1, $2) ON CONFLICT (user_id, name) DO NOTHING`,
      [userId, name],
    );
    return repo.findOneByOrFail({ userId, name });
  }

  /**
   * The user's default project, created if missing. Safe under concurrent calls: the partial unique index
   * admits one default per user, losers of the race re-select the winner's row. When the user already has
   * a non-default project named "Default", that project becomes the default. `m` must be a transaction's
   * manager (every caller creates the project along with a key): the promotion relies on a savepoint.
   */
  async findOrCreateDefault(userId: string, m: EntityManager): Promise<Project> {
    const repo = m.getRepository(Project);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await repo.findOneBy({ userId, isDefault: true });
      if (existing) return existing;

      // No conflict target: a clash on either unique index (a concurrent default, or the name) is a no-op.
      const inserted: { id: string }[] = await m.query(
        `INSERT INTO projects (user_id, name, is_default) VALUES ($1, $2, true)
         ON CONFLICT DO NOTHING RETURNING id`,
        [userId, DEFAULT_PROJECT_NAME],
      );
      if (inserted[0]) return repo.findOneByOrFail({ id: inserted[0].id });

      const promoted = await this.promoteNamedDefault(m, userId);
      if (promoted) return repo.findOneByOrFail({ id: promoted });
    }
    // Three rounds of losing races means something else is wrong; surface it rather than loop.
    throw new Error('could not find or create the default project');
  }

  /**
   * Marks the user's project named "Default" as the default. A concurrent default makes the UPDATE fail
   * the partial unique index; a savepoint keeps that failure from aborting the caller's transaction.
   */
  private async promoteNamedDefault(m: EntityManager, userId: string): Promise<string | undefined> {
    await m.query('SAVEPOINT ks_promote_default');
    try {
      const rows: [{ id: string }[], number] = await m.query(
        `UPDATE projects SET is_default = true
          WHERE user_id = $1 AND name = $2 AND NOT is_default
            AND NOT EXISTS (SELECT 1 FROM projects d WHERE d.user_id = $1 AND d.is_default)
          RETURNING id`,
        [userId, DEFAULT_PROJECT_NAME],
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
