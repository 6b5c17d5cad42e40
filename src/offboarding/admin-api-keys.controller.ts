import { Body, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
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
  AdminApiKeyListDto,
  AdminApiKeyResponseDto,
  AdminListApiKeysQueryDto,
} from 'src/offboarding/dto/admin-inventory.dto';
import { RevokeApiKeyAsAdminDto } from 'src/offboarding/dto/offboarding.dto';
import { OffboardingService } from 'src/offboarding/offboarding.service';
import { ParseUuidPipe } from 'src/validation/parse-uuid.pipe';

const SCOPE_MISSING = 'An org token without the route’s scope (`forbidden`).';

@AdminRoutes('api/v1/admin/api-keys', 'admin inventory')
export class AdminApiKeysController {
  constructor(
    private readonly inventory: AdminInventoryService,
    private readonly offboarding: OffboardingService,
  ) {}

  @Get()
  @RequiresAdminScope('admin:read')
  @ApiOperation({
    summary: 'Every API key, across users (newest first, filtered, in cursor pages)',
    description:
      'Keyset pages: pass `nextCursor` as `cursor` with the same filters for the next page (null on the ' +
      'last). A cursor is opaque and bound to its filters; another filter’s, or one this list did not issue, ' +
      'is a 400. An unknown user or project matches no key.',
  })
  @ApiOkResponse({ type: AdminApiKeyListDto })
  @ApiBadRequestResponse({
    description: 'A filter, `limit` or `cursor` that is not valid (`validation_failed`).',
  })
  @ApiForbiddenResponse({ description: SCOPE_MISSING })
  @AdminRateLimitedResponse()
  list(@Query() query: AdminListApiKeysQueryDto): Promise<AdminApiKeyListDto> {
    return this.inventory.listKeys(query);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @RequiresAdminScope('api-keys:admin')
  @ApiOperation({
    summary: 'Revoke any API key (`revokedReason: admin`)',
    description:
      'Idempotent: a revoked key answers 200 as it is. The reason is kept in the audit row. Refused on the ' +
      'next request, on every instance.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: AdminApiKeyResponseDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID, or `reason` is missing or not valid.' })
  @ApiForbiddenResponse({ description: SCOPE_MISSING })
  @ApiNotFoundResponse({ description: 'No such key.' })
  @AdminRateLimitedResponse()
  async revoke(
    @Audit() ctx: AuditContext,
    @Param('id', ParseUuidPipe) id: string,
    @Body() dto: RevokeApiKeyAsAdminDto,
  ): Promise<AdminApiKeyResponseDto> {
    return { key: await this.offboarding.revokeKey(ctx, id, dto.reason) };
  }
}
