import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { DeveloperKeysService } from 'src/api-keys/developer-keys.service';
import {
  ApiKeyDetailResponseDto,
  ApiKeyListResponseDto,
  ApiKeyResponseDto,
  CreateApiKeyDto,
  CreatedApiKeyResponseDto,
  ListApiKeysQueryDto,
  RevokedApiKeyResponseDto,
  RollApiKeyDto,
  RolledApiKeyResponseDto,
  UpdateApiKeyDto,
} from 'src/api-keys/dto/api-key.dto';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { SessionAuth } from 'src/auth/auth.decorators';
import { SessionUser } from 'src/auth/current-principal.decorator';
import type { SessionPrincipal } from 'src/auth/principal';
import { ParseUuidPipe } from 'src/validation/parse-uuid.pipe';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';
import { DEVELOPER_WRITE_RATE_LIMIT } from 'src/users/users.rate-limits';
import { BrowserCallable } from 'src/http/cors';

@ApiTags('developer')
@SessionAuth()
@BrowserCallable()
@Controller('api/v1/developer/keys')
export class DeveloperKeysController {
  constructor(private readonly keys: DeveloperKeysService) {}

  @Get()
  @ApiOperation({
    summary: 'List your API keys (newest first, revoked and expired ones only with includeRevoked=true)',
  })
  @ApiOkResponse({ type: ApiKeyListResponseDto })
  @ApiBadRequestResponse({ description: 'Invalid query (`validation_failed`).' })
  @ApiNotFoundResponse({ description: '`projectId` is not one of your projects (`not_found`).' })
  list(
    @SessionUser() principal: SessionPrincipal,
    @Query() query: ListApiKeysQueryDto,
  ): Promise<ApiKeyListResponseDto> {
    return this.keys.list(principal, query);
  }

  @Post()
  @RateLimit(DEVELOPER_WRITE_RATE_LIMIT)
  @ApiOperation({
    summary: 'Mint an API key, or store a provider-issued one',
    description:
      'Without `billingProviderId`/`rawApiKey`: mints `ksk_<keyId>_<secret>_<checksum>` and returns it once as `secret`. ' +
      'With both: stores the provider key as a hash and never returns it. The project is `projectId`, ' +
      'else `projectName` (found or created), else your default project (found or created).',
  })
  @ApiCreatedResponse({ type: CreatedApiKeyResponseDto, description: 'Sent with `Cache-Control: no-store`.' })
  @ApiBadRequestResponse({ description: 'Invalid body (`validation_failed`).' })
  @ApiNotFoundResponse({ description: 'Unknown project or billing provider (`not_found`).' })
  @ApiConflictResponse({ description: 'This provider key is already stored (`conflict`).' })
  @ApiForbiddenResponse({ description: 'Your user is disabled (`identity_not_allowed`); nothing is stored.' })
  create(
    @SessionUser() principal: SessionPrincipal,
    @Body() dto: CreateApiKeyDto,
    @Audit() ctx: AuditContext,
  ): Promise<CreatedApiKeyResponseDto> {
    return this.keys.create(principal, dto, ctx);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One of your API keys, with its consumers',
    description:
      '`consumers`: the M2M clients that resolved the key (a 200), most recent first, at most 20, with their ' +
      'first and last resolve; recorded off the resolution path, so a resolve shows within seconds and its ' +
      'last time to about a minute.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ApiKeyDetailResponseDto })
  @ApiBadRequestResponse({ description: 'Malformed id (`validation_failed`).' })
  @ApiNotFoundResponse({ description: 'No such key of yours (`not_found`).' })
  async get(
    @SessionUser() principal: SessionPrincipal,
    @Param('id', ParseUuidPipe) id: string,
  ): Promise<ApiKeyDetailResponseDto> {
    return { key: await this.keys.get(principal, id) };
  }

  @Patch(':id')
  @RateLimit(DEVELOPER_WRITE_RATE_LIMIT)
  @ApiOperation({
    summary: 'Change one of your API keys: label, expiry, allowed origins, enabled',
    description:
      'Only the fields present change; an empty body changes nothing. `enabled: false` makes the key stop ' +
      'resolving at once, on every instance; `enabled: true` restores it unchanged. A provider-issued key ' +
      'accepts only `label` and `enabled`.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: ApiKeyResponseDto })
  @ApiBadRequestResponse({
    description:
      'Invalid body or id, or a field a provider-issued key does not accept (`validation_failed`).',
  })
  @ApiNotFoundResponse({ description: 'No such key of yours (`not_found`).' })
  @ApiConflictResponse({ description: 'The key is revoked, or was rolled into another (`conflict`).' })
  @ApiForbiddenResponse({ description: 'Your user is disabled (`identity_not_allowed`); nothing changes.' })
  async update(
    @SessionUser() principal: SessionPrincipal,
    @Param('id', ParseUuidPipe) id: string,
    @Body() dto: UpdateApiKeyDto,
    @Audit() ctx: AuditContext,
  ): Promise<ApiKeyResponseDto> {
    return { key: await this.keys.update(principal, id, dto, ctx) };
  }

  @Post(':id/roll')
  @RateLimit(DEVELOPER_WRITE_RATE_LIMIT)
  @ApiOperation({
    summary: 'Roll one of your API keys: a new key replaces it, the old one keeps working for a grace',
    description:
      'Mints a new key with the old one’s project, label, scopes, allowed origins and expiry, and returns its ' +
      'plaintext once as `secret`. The old key keeps resolving until `previous.graceEndsAt` (the earlier of ' +
      'its expiry and now + `graceSeconds`; with 0 it is refused at once, on every instance), and resolve ' +
      'answers it with `rolling` meanwhile. With `endGraceWhenUnusedFor`, the grace also ends once the old key ' +
      'goes that long without a resolve. Then it is `REVOKED` with reason `rolled`. Of concurrent rolls of one ' +
      'key, one wins; the others are a 409.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiCreatedResponse({ type: RolledApiKeyResponseDto, description: 'Sent with `Cache-Control: no-store`.' })
  @ApiBadRequestResponse({ description: 'Invalid body or id (`validation_failed`).' })
  @ApiNotFoundResponse({ description: 'No such key of yours (`not_found`).' })
  @ApiConflictResponse({
    description:
      'The key is revoked, expired, disabled, already rolled or provider-issued, or holds scopes ' +
      'API_KEY_SCOPES no longer lists (`conflict`); nothing changes.',
  })
  @ApiForbiddenResponse({ description: 'Your user is disabled (`identity_not_allowed`); nothing changes.' })
  roll(
    @SessionUser() principal: SessionPrincipal,
    @Param('id', ParseUuidPipe) id: string,
    @Body() dto: RollApiKeyDto,
    @Audit() ctx: AuditContext,
  ): Promise<RolledApiKeyResponseDto> {
    return this.keys.roll(principal, id, dto, ctx);
  }

  @Delete(':id')
  @HttpCode(200)
  @RateLimit(DEVELOPER_WRITE_RATE_LIMIT)
  @ApiOperation({
    summary: 'Revoke one of your API keys (idempotent)',
    description:
      'A rolled key in its grace is revoked at once (reason `user`); one whose grace ended stays revoked as `rolled`.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: RevokedApiKeyResponseDto })
  @ApiBadRequestResponse({ description: 'Malformed id (`validation_failed`).' })
  @ApiNotFoundResponse({ description: 'No such key of yours (`not_found`).' })
  @ApiForbiddenResponse({ description: 'Your user is disabled (`identity_not_allowed`); nothing changes.' })
  async revoke(
    @SessionUser() principal: SessionPrincipal,
    @Param('id', ParseUuidPipe) id: string,
    @Audit() ctx: AuditContext,
  ): Promise<RevokedApiKeyResponseDto> {
    await this.keys.revoke(principal, id, ctx);
    return { id, status: 'REVOKED' };
  }
}
