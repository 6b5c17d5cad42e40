import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SessionAuth } from 'src/auth/auth.decorators';
import { SessionUser } from 'src/auth/current-principal.decorator';
import type { SessionPrincipal } from 'src/auth/principal';
import { BrowserCallable } from 'src/http/cors';
import { DeveloperKeyUsageQueryDto, KeyUsageResponseDto } from 'src/key-usage/dto/key-usage.dto';
import { KeyUsageService } from 'src/key-usage/key-usage.service';
import { USAGE_CONTENT_TYPE } from 'src/key-usage/usage-json';

// A static path: Fastify's router prefers it to `/api/v1/developer/keys/:id` whatever the order of registration.
@ApiTags('developer')
@SessionAuth()
@BrowserCallable()
@Controller('api/v1/developer/keys/usage')
export class DeveloperKeyUsageController {
  constructor(private readonly usage: KeyUsageService) {}

  @Get()
  @Header('Content-Type', USAGE_CONTENT_TYPE)
  @ApiOperation({
    summary: 'How often your keys were resolved, valid and refused, per hour or day',
    description:
      'Counts of resolves per key in the window [from, to) (default the last 24 hours, at most 90 days), with ' +
      'the buckets that hold any count. Ids of keys that are not yours are left out, as unknown ones are. ' +
      'Counts are written every USAGE_FLUSH_INTERVAL_SECONDS, so the last seconds may not show yet.',
  })
  @ApiOkResponse({ type: KeyUsageResponseDto })
  @ApiBadRequestResponse({
    description:
      '`keyIds` missing, not UUIDs or more than 100; `from`/`to` not instants, `from` not before `to`, or a ' +
      'window longer than 90 days; `granularity` not `hour` or `day` (`validation_failed`).',
  })
  usageOf(
    @SessionUser() principal: SessionPrincipal,
    @Query() query: DeveloperKeyUsageQueryDto,
  ): Promise<Buffer> {
    return this.usage.forDeveloper(principal, query);
  }
}
