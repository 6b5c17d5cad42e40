import { Controller, Get, Head, Header, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { Public, SessionAuth } from 'src/auth/auth.decorators';
import { SessionUser } from 'src/auth/current-principal.decorator';
import { BrowserCallable } from 'src/http/cors';
import type { SessionPrincipal } from 'src/auth/principal';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';
import { CALLBACK_PAGE_CSP } from 'src/oauth-sessions/callback-page';
import {
  OAuthSessionResultDto,
  OAuthSessionResultQueryDto,
  StartOAuthSessionResponseDto,
} from 'src/oauth-sessions/dto/oauth-session.dto';
import {
  OAUTH_CALLBACK_RATE_LIMIT,
  OAUTH_START_RATE_LIMIT,
  OAUTH_START_USER_RATE_LIMIT,
} from 'src/oauth-sessions/oauth-sessions.rate-limits';
import { OAuthSessionsService } from 'src/oauth-sessions/oauth-sessions.service';

/** An answer of the callback: an HTML page, whatever its status. */
const CallbackPage = (status: number, description: string): MethodDecorator =>
  ApiResponse({ status, description, content: { 'text/html': { schema: { type: 'string' } } } });

/** The part of Fastify's `reply` this controller uses. */
interface StatusSetter {
  status(code: number): unknown;
}

@ApiTags('provider-oauth')
@ApiParam({ name: 'slug', type: String, description: 'The billing provider (BILLING_PROVIDERS slug).' })
@Controller('api/v1/auth/providers/:slug')
export class OAuthSessionsController {
  constructor(private readonly sessions: OAuthSessionsService) {}

  @Post('start')
  @SessionAuth()
  @BrowserCallable()
  @RateLimit(OAUTH_START_RATE_LIMIT, OAUTH_START_USER_RATE_LIMIT)
  @HttpCode(201)
  @ApiOperation({
    summary: "Start a provider login: a session, and the provider's login URL to open in a new tab",
  })
  @ApiCreatedResponse({
    type: StartOAuthSessionResponseDto,
    description: 'Sent with `Cache-Control: no-store`.',
  })
  @ApiNotFoundResponse({ description: 'Unknown or disabled provider (`not_found`).' })
  @ApiForbiddenResponse({ description: 'The user is disabled (`identity_not_allowed`).' })
  @ApiServiceUnavailableResponse({
    description: 'No encryption key is configured (`encryption_key_missing`).',
  })
  start(
    @SessionUser() principal: SessionPrincipal,
    @Param('slug') slug: string,
    @Audit() ctx: AuditContext,
  ): Promise<StartOAuthSessionResponseDto> {
    return this.sessions.start(principal, slug, ctx);
  }

  /**
   * Declared before the GET so that Fastify does not derive a HEAD route from it (which would run the
   * exchange and use up the state): a HEAD (a link preview, a scanner) does nothing and says which method
   * the callback serves.
   */
  @Head('callback')
  @Public()
  @HttpCode(405)
  @Header('Allow', 'GET')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'HEAD on the callback: 405 with `Allow: GET`; never runs the exchange or uses up the state',
  })
  @ApiResponse({ status: 405, description: 'Always: only GET runs the callback (no body, `Allow: GET`).' })
  headCallback(): void {}

  @Get('callback')
  @Public()
  @RateLimit(OAUTH_CALLBACK_RATE_LIMIT)
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @Header('Content-Security-Policy', CALLBACK_PAGE_CSP)
  // helmet's `same-origin` would cut the tab off from the settings UI window that opened it (window.opener
  // becomes null), and the completion code could not be handed over. The page's own CSP still applies.
  @Header('Cross-Origin-Opener-Policy', 'unsafe-none')
  @ApiOperation({
    summary: "The provider's redirect: exchanges its token for the provider's API key, answers an HTML page",
    description:
      '200 success: the page posts `{"type":"keysmith:provider-linked", loginSessionId, completionCode}` to ' +
      'the settings UI window that opened it (SETTINGS_UI_ORIGIN), then closes itself; ' +
      '400 unknown, used, mismatched or expired state, or no token; ' +
      '403 disabled user; 502 the exchange with the provider failed; 503 no encryption key here (nothing ' +
      'consumed: reload later). Always `Cache-Control: no-store` and a restrictive Content-Security-Policy.',
  })
  @ApiProduces('text/html')
  @ApiQuery({
    name: 'state',
    type: String,
    required: true,
    description: 'The single-use state of the start.',
  })
  @ApiQuery({
    name: 'token',
    type: String,
    required: true,
    description: "The provider's token, exchanged once, never stored.",
  })
  @CallbackPage(200, 'Signed in: the page tells the user to go back, and closes itself.')
  @CallbackPage(400, 'Unknown, used, mismatched or expired state, or no token: a failure page.')
  @CallbackPage(403, 'The user who started the login is disabled: a failure page.')
  @CallbackPage(502, 'The exchange with the provider failed: a failure page.')
  @CallbackPage(503, 'No encryption key on this instance (nothing consumed): a failure page.')
  async callback(
    @Param('slug') slug: string,
    @Query('state') state: unknown,
    @Query('token') token: unknown,
    @Audit() ctx: AuditContext,
    @Res({ passthrough: true }) res: StatusSetter,
  ): Promise<string> {
    const page = await this.sessions.callback(slug, state, token, ctx);
    res.status(page.status);
    return page.html;
  }

  @Get('result')
  @SessionAuth()
  @BrowserCallable()
  @ApiOperation({
    summary:
      'Poll a provider login: the provider key comes back once, to one poll that brings the completion code',
  })
  @ApiOkResponse({ type: OAuthSessionResultDto, description: 'Sent with `Cache-Control: no-store`.' })
  @ApiBadRequestResponse({ description: '`loginSessionId` missing or not a UUID (`validation_failed`).' })
  @ApiNotFoundResponse({ description: 'No such session of yours for this provider (`not_found`).' })
  @ApiForbiddenResponse({ description: 'The user is disabled (`identity_not_allowed`).' })
  @ApiServiceUnavailableResponse({
    description: 'The key cannot be decrypted here (`encryption_key_missing`); it stays for a later poll.',
  })
  result(
    @SessionUser() principal: SessionPrincipal,
    @Param('slug') slug: string,
    @Query() query: OAuthSessionResultQueryDto,
    @Audit() ctx: AuditContext,
  ): Promise<OAuthSessionResultDto> {
    return this.sessions.result(principal, slug, query.loginSessionId, query.completionCode, ctx);
  }
}
