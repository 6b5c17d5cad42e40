import { Body, Controller, Header, Headers, HttpCode, NotFoundException, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { Public } from 'src/auth/auth.decorators';
import { RawBody, RawBodyBytes } from 'src/http/body-parsing';
import {
  PublicRevokeDto,
  PublicRevokeResponseDto,
  SECRET_SCANNING_REPORT_SCHEMA,
  SecretScanningFeedbackDto,
} from 'src/leaks/dto/leaked-secrets.dto';
import { LeakedSecretsService, type MatchFeedback } from 'src/leaks/leaked-secrets.service';
import { PUBLIC_REVOKE_RATE_LIMIT } from 'src/leaks/leaks.rate-limits';
import { RateLimit } from 'src/rate-limit/rate-limit.decorator';

/**
 * The largest secret-scanning report read: 1 MiB, room for 1,000 matches with URLs of up to about 800
 * characters (a match is ~300 bytes with a typical URL), or some 10,000 bare keysmith keys. 413 above.
 */
export const REPORT_BODY_LIMIT = 1024 * 1024;

@ApiTags('leaked-secrets')
@Controller('api/v1')
export class LeakedSecretsController {
  constructor(private readonly leaks: LeakedSecretsService) {}

  @Post('integrations/secret-scanning/github')
  @Public()
  @RawBody(REPORT_BODY_LIMIT)
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: "GitHub secret scanning's leak report: revokes every live keysmith secret in it",
    description:
      "GitHub's secret scanning partner protocol. The signature (`Github-Public-Key-Signature`, base64 DER " +
      'ECDSA P-256 / SHA-256 over the raw body, by the key `Github-Public-Key-Identifier` names among those ' +
      'at SECRET_SCANNING_GITHUB_KEYS_URL) is checked before the body is read as JSON. Each API key or org ' +
      'token in it is recognised offline (shape and checksum), looked up, and revoked if live (reason ' +
      '`leaked`, the URL in the audit row). The answer has one feedback per match, in order. Up to 1 MiB.',
  })
  @ApiHeader({ name: 'Github-Public-Key-Identifier', required: true, description: 'The signing key.' })
  @ApiHeader({ name: 'Github-Public-Key-Signature', required: true, description: 'Base64 DER signature.' })
  @ApiBody({ schema: SECRET_SCANNING_REPORT_SCHEMA })
  @ApiOkResponse({
    type: [SecretScanningFeedbackDto],
    description: 'One feedback per match. Sent with `Cache-Control: no-store` (it repeats the tokens).',
  })
  @ApiBadRequestResponse({
    description:
      'A verified body that is not a UTF-8 JSON array of objects each with a string `token` (`validation_failed`).',
  })
  @ApiUnauthorizedResponse({
    description:
      'Signature headers missing or malformed, an unknown key identifier, or a signature over other bytes ' +
      '(`unauthorized`).',
  })
  @ApiNotFoundResponse({
    description: 'SECRET_SCANNING_GITHUB_KEYS_URL is unset: the answer of an unknown route (`not_found`).',
  })
  @ApiPayloadTooLargeResponse({ description: 'A body over 1 MiB (`payload_too_large`).' })
  @ApiServiceUnavailableResponse({
    description:
      "The scanner's public keys cannot be fetched and the report's key is not among those last fetched " +
      '(`service_unavailable`, with Retry-After): nothing was read or revoked; the scanner retries.',
  })
  async report(
    @RawBodyBytes() body: Buffer,
    @Headers() headers: Record<string, string | string[] | undefined>,
    @Audit() ctx: AuditContext,
  ): Promise<MatchFeedback[]> {
    // Unconfigured, the route answers what an unknown one does (the exception filter's 404).
    if (!this.leaks.scanningConfigured) throw new NotFoundException();
    return this.leaks.report(body, headers, ctx);
  }

  @Post('keys/revoke')
  @Public()
  @RateLimit(PUBLIC_REVOKE_RATE_LIMIT)
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Revoke a leaked keysmith secret without an account: always 200 {}, whatever the key was',
    description:
      'Anyone holding a keysmith API key or org token can kill it (RFC 7009 style): a live one is revoked ' +
      '(reason `reported`, audited with the client IP). The answer, and the work done, are the same for a ' +
      'live key, a revoked one, another kind of string and garbage: it never tells whether a key existed.',
  })
  @ApiOkResponse({ type: PublicRevokeResponseDto, description: 'Always `{}`.' })
  @ApiBadRequestResponse({
    description:
      'The body is not JSON, or `key` is missing, not a string or over 1024 characters (`validation_failed`).',
  })
  async revoke(@Body() body: PublicRevokeDto, @Audit() ctx: AuditContext): Promise<PublicRevokeResponseDto> {
    await this.leaks.publicRevoke(body.key, ctx);
    return {};
  }
}
