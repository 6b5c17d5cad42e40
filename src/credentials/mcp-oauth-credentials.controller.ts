import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { SessionAuth } from 'src/auth/auth.decorators';
import { SessionUser } from 'src/auth/current-principal.decorator';
import type { SessionPrincipal } from 'src/auth/principal';
import {
  CredentialListDto,
  DepositCredentialDto,
  DepositedCredentialDto,
} from 'src/credentials/dto/mcp-oauth-credential.dto';
import { McpOAuthCredentialsService } from 'src/credentials/mcp-oauth-credentials.service';
import { MCP_SERVER_ID_PARAM_PATTERN, McpServerIdPipe } from 'src/credentials/mcp-server-id.pipe';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';
import { DEVELOPER_WRITE_RATE_LIMIT } from 'src/users/users.rate-limits';
import { BrowserCallable } from 'src/http/cors';

@ApiTags('credentials')
@SessionAuth()
@BrowserCallable()
@Controller('api/v1/mcp-oauth-credentials')
export class McpOAuthCredentialsController {
  constructor(private readonly credentials: McpOAuthCredentialsService) {}

  @Post()
  @HttpCode(200)
  @RateLimit(DEVELOPER_WRITE_RATE_LIMIT)
  @ApiOperation({
    summary: 'Deposit your OAuth credential for an MCP server (replaces the one stored for it)',
    description:
      'Stores the refresh token and client secret encrypted (AES-256-GCM), for the user of the session ' +
      'only. A second deposit for the same `mcpServerId` replaces the first and clears any ' +
      '"reauthorization required" state and the health (`status: healthy`). Secrets are never returned. ' +
      'With `validate: true`, one refresh is made first and nothing is stored unless it succeeds.',
  })
  @ApiOkResponse({ type: DepositedCredentialDto })
  @ApiConflictResponse({
    description:
      '`validate: true` and the token endpoint refused the refresh token (`reauthorization_required`); ' +
      'nothing was stored.',
  })
  @ApiBadGatewayResponse({
    description:
      '`validate: true` and the refresh failed otherwise (`upstream_failed`, `error.reason` as on the ' +
      'access-token route); nothing was stored.',
  })
  @ApiBadRequestResponse({
    description: 'Invalid body, or a token endpoint the outbound policy refuses (`validation_failed`).',
  })
  @ApiForbiddenResponse({ description: 'Your user is disabled (`identity_not_allowed`).' })
  @ApiServiceUnavailableResponse({
    description: 'No encryption key is configured (`encryption_key_missing`); nothing was stored.',
  })
  deposit(
    @SessionUser() principal: SessionPrincipal,
    @Body() dto: DepositCredentialDto,
    @Audit() ctx: AuditContext,
  ): Promise<DepositedCredentialDto> {
    return this.credentials.deposit(principal, dto, ctx);
  }

  @Get()
  @ApiOperation({
    summary: 'List your MCP OAuth credentials (metadata and health, by server id)',
    description:
      'Each credential’s health: `status`, `lastRefreshedAt`, `consecutiveFailures` and `lastFailure` ' +
      '(keysmith’s failure type and time, never the provider’s text).',
  })
  @ApiOkResponse({ type: CredentialListDto })
  async list(@SessionUser() principal: SessionPrincipal): Promise<CredentialListDto> {
    return { credentials: await this.credentials.list(principal) };
  }

  @Delete(':mcpServerId')
  @HttpCode(204)
  @RateLimit(DEVELOPER_WRITE_RATE_LIMIT)
  @ApiOperation({
    summary: 'Delete your OAuth credential for an MCP server',
    description:
      'When a `revocationEndpoint` was deposited, the refresh token is revoked there first (RFC 7009; ' +
      'bounded, best effort): the delete answers 204 whatever the provider does, and the audit row says ' +
      'whether it confirmed.',
  })
  @ApiParam({
    name: 'mcpServerId',
    description: 'As deposited (URL-encoded).',
    schema: { type: 'string', pattern: MCP_SERVER_ID_PARAM_PATTERN },
  })
  @ApiNoContentResponse({ description: 'Deleted; no body.' })
  @ApiBadRequestResponse({ description: 'Malformed server id (`validation_failed`).' })
  @ApiNotFoundResponse({ description: 'You have no credential for this server (`not_found`).' })
  @ApiForbiddenResponse({
    description: 'Your user is disabled (`identity_not_allowed`); nothing is deleted.',
  })
  remove(
    @SessionUser() principal: SessionPrincipal,
    @Param('mcpServerId', McpServerIdPipe) mcpServerId: string,
    @Audit() ctx: AuditContext,
  ): Promise<void> {
    return this.credentials.remove(principal, mcpServerId, ctx);
  }
}
