import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { Public } from 'src/auth/auth.decorators';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
  ) {}

  @Public()
  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers.' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['status'],
      properties: { status: { type: 'string', enum: ['ok'] } },
    },
  })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Public()
  @Get('ready')
  // Terminus documents its own 503 body; the exception filter answers the error envelope instead.
  @ApiServiceUnavailableResponse({
    description: 'The database does not answer (`service_unavailable`, with Retry-After).',
    schema: { $ref: '#/components/schemas/ErrorResponse' },
    headers: {
      'Retry-After': { required: true, description: 'Seconds to wait.', schema: { type: 'integer' } },
    },
  })
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: the database answers a ping within 1.5 s. 503 otherwise.' })
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.db.pingCheck('database', { timeout: 1500 })]);
  }
}
