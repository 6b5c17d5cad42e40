import { Body, Controller, Delete, Get, Param, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { AdminAuth } from 'src/auth/auth.decorators';
import { ParseUuidPipe } from 'src/validation/parse-uuid.pipe';
import { ADMIN_RATE_LIMIT } from 'src/auth/admin/admin.rate-limits';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';
import { ORG_TOKEN_MINT_RATE_LIMIT } from 'src/org-tokens/org-tokens.rate-limits';
import { CreateOrgTokenDto } from 'src/org-tokens/dto/create-org-token.dto';
import { MintedOrgTokenDto, OrgTokenListDto, RevokedOrgTokenDto } from 'src/org-tokens/dto/org-token.dto';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';

@ApiTags('org tokens')
@AdminAuth()
@Controller('api/v1/org/tokens')
export class OrgTokensController {
  constructor(private readonly tokens: OrgTokensService) {}

  @Post()
  @RateLimit(ADMIN_RATE_LIMIT, ORG_TOKEN_MINT_RATE_LIMIT)
  @ApiOperation({
    summary: 'Mint an org token',
    description:
      'The plaintext `token` is in this response only. An empty body mints an unnamed token that never ' +
      'expires. `createdBy` is the caller’s actor. 10 authenticated mints per hour per client IP (a bucket ' +
      'of its own, which refused requests do not use up), on top of the `admin` limit.',
  })
  @ApiCreatedResponse({ type: MintedOrgTokenDto })
  @ApiBadRequestResponse({
    description: 'Name over 100 characters, unknown field, date not ISO or not future.',
  })
  mint(@Audit() ctx: AuditContext, @Body() dto: CreateOrgTokenDto): Promise<MintedOrgTokenDto> {
    return this.tokens.mint(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List live org tokens (newest first, at most 500; no secrets)' })
  @ApiOkResponse({ type: OrgTokenListDto })
  @ApiTooManyRequestsResponse({ description: 'Admin rate limit (`rate_limited`, with `Retry-After`).' })
  list(): Promise<OrgTokenListDto> {
    return this.tokens.list();
  }

  @Delete(':id')
  @ApiOperation({
    summary: 'Revoke an org token',
    description: 'Idempotent: revoking a revoked token answers 200 again. Effective on the next request.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: RevokedOrgTokenDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: 'No such token.' })
  @ApiTooManyRequestsResponse({ description: 'Admin rate limit (`rate_limited`, with `Retry-After`).' })
  revoke(@Audit() ctx: AuditContext, @Param('id', ParseUuidPipe) id: string): Promise<RevokedOrgTokenDto> {
    return this.tokens.revoke(ctx, id);
  }
}
