import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { SessionPrincipal } from 'src/auth/principal';
import { iso } from 'src/validation/instants';
import type { CreateProjectDto, ProjectDto, ProjectsResponseDto } from 'src/projects/dto/project.dto';
import type { Project } from 'src/projects/project.entity';
import { projectsError, ProjectsErrorCode } from 'src/projects/projects.errors';
import { ProjectsRepository, type ProjectRow } from 'src/projects/projects.repository';
import { UsersService } from 'src/users/users.service';

export const DEFAULT_PROJECT_NAME = 'Default';
/** A user with more projects than a settings page can show sees the first ones (default, then oldest). */
export const PROJECT_LIST_LIMIT = 500;

function toView(r: ProjectRow): ProjectDto {
  return {
    id: r.id,
    name: r.name,
    isDefault: r.isDefault,
    createdAt: iso(r.createdAt),
    apiKeyCount: Number(r.apiKeyCount),
  };
}

/**
 * A user's projects. A project of another user is indistinguishable from one that does not exist.
 * Find-or-create leans on the unique indexes, so racing requests converge on one row.
 */
@Injectable()
export class ProjectsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly projects: ProjectsRepository,
    private readonly users: UsersService,
  ) {}

  async list(principal: SessionPrincipal): Promise<ProjectsResponseDto> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    const rows = await this.projects.listWithKeyCounts(user.id, PROJECT_LIST_LIMIT);
    return { projects: rows.map(toView) };
  }

  /** Creates a project for the caller; a name they already have is a 409; a disabled user is refused (403). */
  async create(principal: SessionPrincipal, dto: CreateProjectDto): Promise<ProjectDto> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    const row = await this.dataSource.transaction(async (m) => {
      const { disabled } = await this.users.lockForKeyChanges(user.id, m);
      if (disabled) throw projectsError(ProjectsErrorCode.UserDisabled);
      return this.projects.insert(user.id, dto.name, m);
    });
    if (!row) throw projectsError(ProjectsErrorCode.NameTaken);
    return toView(row);
  }

  /** The user's project `projectId`, or 404 when it does not exist or belongs to someone else. */
  async findOwned(userId: string, projectId: string, manager?: EntityManager): Promise<Project> {
    const project = await this.projects.findOwned(userId, projectId, manager);
    if (!project) throw projectsError(ProjectsErrorCode.NotFound);
    return project;
  }

  /** The user's project called `name`, created (not as default) if missing. */
  async findOrCreateByName(userId: string, name: string, manager?: EntityManager): Promise<Project> {
    const m = manager ?? this.dataSource.manager;
    const existing = await this.projects.findByName(userId, name, m);
    if (existing) return existing;
    await this.projects.insert(userId, name, m);
    const created = await this.projects.findByName(userId, name, m);
    if (!created) throw new Error('a project inserted or found by name is gone');
    return created;
  }

  /**
   * The user's default project, created if missing. Safe under concurrent calls: the partial unique index
   * admits one default per user, losers of the race re-select the winner's row. When the user already has
   * a non-default project named "Default", that project becomes the default. `m` must be a transaction's
   * manager (every caller creates the project along with a key): the promotion relies on a savepoint.
   */
  async findOrCreateDefault(userId: string, m: EntityManager): Promise<Project> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.projects.findDefault(userId, m);
      if (existing) return existing;
      const inserted = await this.projects.insertDefault(userId, DEFAULT_PROJECT_NAME, m);
      if (inserted) return this.projects.getById(inserted, m);
      const promoted = await this.projects.promoteToDefault(userId, DEFAULT_PROJECT_NAME, m);
      if (promoted) return this.projects.getById(promoted, m);
    }
    // Three rounds of losing races means something else is wrong; surface it rather than loop.
    throw new Error('could not find or create the default project');
  }
}
