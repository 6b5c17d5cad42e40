import { Body, Controller, Get, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CreateProjectDto, ProjectDto, ProjectsResponseDto } from 'src/api-keys/dto/project.dto';
import type { Project } from 'src/api-keys/project.entity';
import { ProjectsService } from 'src/api-keys/projects.service';
import { SessionUser } from 'src/api-keys/session-user.decorator';
import { UsersService } from 'src/api-keys/users.service';
import { SessionAuth } from 'src/auth/auth.decorators';
import type { SessionPrincipal } from 'src/auth/principal';

function toView(project: Project, apiKeyCount: number): ProjectDto {
  return {
    id: project.id,
    name: project.name,
    isDefault: project.isDefault,
    createdAt: project.createdAt.toISOString(),
    apiKeyCount,
  };
}

@ApiTags('developer')
@SessionAuth()
@Controller('api/v1/developer/projects')
export class ProjectsController {
  constructor(
    private readonly users: UsersService,
    private readonly projects: ProjectsService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List your projects with their live (not revoked) API key counts' })
  @ApiOkResponse({ type: ProjectsResponseDto })
  async list(@SessionUser() principal: SessionPrincipal): Promise<ProjectsResponseDto> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    const rows = await this.projects.list(user.id);
    return { projects: rows.map((r) => toView(r.project, r.apiKeyCount)) };
  }

  @Post()
  @ApiOperation({ summary: 'Create a project' })
  @ApiCreatedResponse({ type: ProjectDto })
  @ApiBadRequestResponse({ description: 'Invalid body (`validation_failed`).' })
  @ApiConflictResponse({ description: 'You already have a project with this name (`conflict`).' })
  async create(
    @SessionUser() principal: SessionPrincipal,
    @Body() dto: CreateProjectDto,
  ): Promise<ProjectDto> {
    const user = await this.users.findOrCreateByExternalId(principal.sub);
    return toView(await this.projects.create(user.id, dto.name), 0);
  }
}
