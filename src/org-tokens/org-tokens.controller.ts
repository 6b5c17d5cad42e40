import { Body, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
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
import { CurrentPrincipal } from 'src/auth/current-principal.decorator';
import type { AdminPrincipal } from 'src/auth/principal';
import { ParseUuidPipe } from 'src/validation/parse-uuid.pipe';
import { ADMIN_RATE_LIMIT } from 'src/auth/admin/admin.rate-limits';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';
import { ORG_TOKEN_MINT_RATE_LIMIT } from 'src/org-tokens/org-tokens.rate-limits';
import { CreateOrgTokenDto } from 'src/org-tokens/dto/create-org-token.dto';
import {
  MintedOrgTokenDto,
  OrgTokenListDto,
  RevokedOrgTokenDto,
  RolledOrgTokenDto,
} from 'src/org-tokens/dto/org-token.dto';
import { RollOrgTokenDto } from 'src/org-tokens/dto/roll-org-token.dto';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';

const NOT_HELD =
  'Or the new token would hold a scope the credential does not hold itself (`forbidden`, naming those scopes); ' +
  'or the person it would belong to (the minting session, or the minting token’s owner) is disabled ' +
  '(`identity_not_allowed`).';

@AdminRoutes('api/v1/org/tokens', 'org tokens')
export class OrgTokensController {
  constructor(private readonly tokens: OrgTokensService) {}

  @Post()
  // Above the scope (decorators apply bottom up): its 403 description follows the scope's.
  @ApiForbiddenResponse({ description: NOT_HELD })
  @RequiresAdminScope('org-tokens:write')
  @RateLimit(ADMIN_RATE_LIMIT, ORG_TOKEN_MINT_RATE_LIMIT)
  @ApiOperation({
    summary: 'Mint an org token',
    description:
      'The plaintext `token` is in this response only. An empty body mints an unnamed `admin` token that never ' +
      'expires. `createdBy` is the caller’s actor. 10 authenticated mints and rolls per hour per client IP (a ' +
      'bucket of its own, which refused requests do not use up), on top of the `admin` limit.',
  })
  @ApiCreatedResponse({ type: MintedOrgTokenDto })
  @ApiBadRequestResponse({
    description:
      'Name over 100 characters, unknown field, date not ISO or not future, scopes empty, unknown or repeated.',
  })
  mint(
    @Audit() ctx: AuditContext,
    @CurrentPrincipal('admin') principal: AdminPrincipal,
    @Body() dto: CreateOrgTokenDto,
  ): Promise<MintedOrgTokenDto> {
    return this.tokens.mint(ctx, principal, dto);
  }

  @Get()
  @RequiresAdminScope('admin:read')
  @ApiOperation({
    summary: 'List live org tokens (newest first, at most 500; no secrets)',
    description: 'A rolled token is listed until its grace ends, with `graceEndsAt` and `successorId`.',
  })
  @ApiOkResponse({ type: OrgTokenListDto })
  @AdminRateLimitedResponse()
  list(): Promise<OrgTokenListDto> {
    return this.tokens.list();
  }

  @Delete(':id')
  @RequiresAdminScope('org-tokens:write')
  @ApiOperation({
    summary: 'Revoke an org token',
    description:
      'Idempotent: revoking a revoked token answers 200 again. Effective on the next request. Any holder of ' +
      '`org-tokens:write` may revoke any token, whatever its scopes: taking rights away escalates nothing. ' +
      'Revoking a rolled token ends its grace.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: RevokedOrgTokenDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: 'No such token.' })
  @AdminRateLimitedResponse()
  revoke(@Audit() ctx: AuditContext, @Param('id', ParseUuidPipe) id: string): Promise<RevokedOrgTokenDto> {
    return this.tokens.revoke(ctx, id);
  }

  @Post(':id/roll')
  @HttpCode(201)
  @ApiForbiddenResponse({
    description:
      'Or the token holds a scope the credential does not hold itself; or the person the token belongs to is ' +
      'disabled (`identity_not_allowed`).',
  })
  @RequiresAdminScope('org-tokens:write')
  @RateLimit(ADMIN_RATE_LIMIT, ORG_TOKEN_MINT_RATE_LIMIT)
  @ApiOperation({
    summary: 'Roll an org token: a new token, the old one working until its grace ends',
    description:
      'The new token inherits name, scopes and expiry; its plaintext `token` is in this response only. The old ' +
      'one keeps working until `previous.graceEndsAt`, the earlier of its expiry and now + `graceSeconds`; with ' +
      '0 it is refused from the very next request, on every instance. The caller must hold the token’s scopes. ' +
      'Counts against the mint bucket (10 mints and rolls per hour per client IP).',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiCreatedResponse({ type: RolledOrgTokenDto })
  @ApiBadRequestResponse({
    description: 'The id is not a UUID, `graceSeconds` not an integer in 0..2592000.',
  })
  @ApiNotFoundResponse({ description: 'No such token.' })
  @ApiConflictResponse({
    description:
      'The token is revoked, expired or already rolled (`conflict`); of concurrent rolls one wins.',
  })
  roll(
    @Audit() ctx: AuditContext,
    @CurrentPrincipal('admin') principal: AdminPrincipal,
    @Param('id', ParseUuidPipe) id: string,
    @Body() dto: RollOrgTokenDto,
  ): Promise<RolledOrgTokenDto> {
    return this.tokens.roll(ctx, principal.scopes, id, dto);
  }
}
