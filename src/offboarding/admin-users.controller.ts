import { Body, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
} from '@nestjs/swagger';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { RequiresAdminScope } from 'src/auth/admin/admin-scopes';
import { AdminRateLimitedResponse, AdminRoutes } from 'src/auth/admin/admin-routes.decorators';
import { AdminInventoryService } from 'src/offboarding/admin-inventory.service';
import {
  AdminListUsersQueryDto,
  AdminUserListDto,
  AdminUserResponseDto,
} from 'src/offboarding/dto/admin-inventory.dto';
import { DisableUserDto, DisableUserResponseDto, EnableUserDto } from 'src/offboarding/dto/offboarding.dto';
import { OffboardingService } from 'src/offboarding/offboarding.service';
import { ParseUuidPipe } from 'src/validation/parse-uuid.pipe';

const SCOPE_MISSING = 'An org token without the route’s scope (`forbidden`).';

@AdminRoutes('api/v1/admin/users', 'admin inventory')
export class AdminUsersController {
  constructor(
    private readonly inventory: AdminInventoryService,
    private readonly offboarding: OffboardingService,
  ) {}

  @Get()
  @RequiresAdminScope('admin:read')
  @ApiOperation({
    summary: 'Every user (newest first, filtered, in cursor pages)',
    description:
      'Keyset pages, as the key list: pass `nextCursor` as `cursor` with the same filters. `liveKeyCount` ' +
      'counts keys neither revoked nor expired.',
  })
  @ApiOkResponse({ type: AdminUserListDto })
  @ApiBadRequestResponse({
    description: 'A filter, `limit` or `cursor` that is not valid (`validation_failed`).',
  })
  @ApiForbiddenResponse({ description: SCOPE_MISSING })
  @AdminRateLimitedResponse()
  list(@Query() query: AdminListUsersQueryDto): Promise<AdminUserListDto> {
    return this.inventory.listUsers(query);
  }

  @Post(':id/disable')
  @HttpCode(200)
  @RequiresAdminScope('users:admin')
  @ApiOperation({
    summary: 'Offboard a user: disable them and revoke everything they hold (or, `dryRun`, report it)',
    description:
      'One transaction: the user is disabled; every API key of theirs not yet revoked is revoked ' +
      '(`offboarding`); every live org token a session of theirs minted is revoked; their provider handoffs ' +
      'are cancelled; their MCP credentials are deleted. Every instance refuses all of it at the next ' +
      'request. Then each refresh token is revoked at the revocation endpoint deposited with it (RFC 7009; ' +
      'bounded, best effort: `upstreamRevoked`). `dryRun:true` answers the same report and changes nothing; ' +
      'a second call answers what was left (nothing).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: DisableUserResponseDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID, or `reason` is missing or not valid.' })
  @ApiForbiddenResponse({ description: SCOPE_MISSING })
  @ApiNotFoundResponse({ description: 'No such user.' })
  @AdminRateLimitedResponse()
  disable(
    @Audit() ctx: AuditContext,
    @Param('id', ParseUuidPipe) id: string,
    @Body() dto: DisableUserDto,
  ): Promise<DisableUserResponseDto> {
    return this.offboarding.disable(ctx, id, dto);
  }

  @Post(':id/enable')
  @HttpCode(200)
  @RequiresAdminScope('users:admin')
  @ApiOperation({
    summary: 'Enable a disabled user again (their revoked keys stay revoked)',
    description: 'Idempotent: an enabled user answers as they are. An empty body is allowed.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiBody({ type: EnableUserDto, required: false })
  @ApiOkResponse({ type: AdminUserResponseDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID, or `reason` is not valid.' })
  @ApiForbiddenResponse({ description: SCOPE_MISSING })
  @ApiNotFoundResponse({ description: 'No such user.' })
  @AdminRateLimitedResponse()
  async enable(
    @Audit() ctx: AuditContext,
    @Param('id', ParseUuidPipe) id: string,
    @Body() dto: EnableUserDto,
  ): Promise<AdminUserResponseDto> {
    return { user: await this.offboarding.enable(ctx, id, dto) };
  }
}
