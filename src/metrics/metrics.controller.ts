import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { MetricsAuth } from 'src/auth/auth.decorators';
import { MetricsService } from 'src/metrics/metrics.service';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @MetricsAuth()
  @Get()
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'http_requests_total and http_request_duration_seconds by method, route pattern and status, Node process metrics, ' +
      'and the operator metrics keysmith_* (caches, the revocation feed, the database pool, the rate-limit storage; docs/operations.md). ' +
      'With METRICS_TOKEN set, it requires that token as a bearer token; unset, it is public.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text exposition format.',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @Header('Cache-Control', 'no-store')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
