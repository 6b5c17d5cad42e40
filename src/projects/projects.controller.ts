import { Body, Controller, Get, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CreateProjectDto, ProjectDto, ProjectsResponseDto } from 'src/projects/dto/project.dto';
import { ProjectsService } from 'src/projects/projects.service';
import { SessionAuth } from 'src/auth/auth.decorators';
import type { SessionPrincipal } from 'src/auth/principal';
import { SessionUser } from 'src/auth/current-principal.decorator';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';
import { DEVELOPER_WRITE_RATE_LIMIT } from 'src/users/users.rate-limits';
import { BrowserCallable } from 'src/http/cors';

@ApiTags('developer')
@SessionAuth()
@BrowserCallable()
@Controller('api/v1/developer/projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  @ApiOperation({ summary: 'List your projects with their live (not revoked) API key counts (at most 500)' })
  @ApiOkResponse({ type: ProjectsResponseDto })
  list(@SessionUser() principal: SessionPrincipal): Promise<ProjectsResponseDto> {
    return this.projects.list(principal);
  }

  @Post()
  @RateLimit(DEVELOPER_WRITE_RATE_LIMIT)
  @ApiOperation({ summary: 'Create a project' })
  @ApiCreatedResponse({ type: ProjectDto })
  @ApiBadRequestResponse({ description: 'Invalid body (`validation_failed`).' })
  @ApiConflictResponse({ description: 'You already have a project with this name (`conflict`).' })
  @ApiForbiddenResponse({ description: 'Your user is disabled (`identity_not_allowed`).' })
  create(@SessionUser() principal: SessionPrincipal, @Body() dto: CreateProjectDto): Promise<ProjectDto> {
    return this.projects.create(principal, dto);
  }
}
