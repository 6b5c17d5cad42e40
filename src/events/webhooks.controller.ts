import { Body, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiServiceUnavailableResponse,
} from '@nestjs/swagger';
import { Audit } from 'src/audit/audit-context.decorator';
import type { AuditContext } from 'src/audit/audit.service';
import { RequiresAdminScope } from 'src/auth/admin/admin-scopes';
import { AdminRateLimitedResponse, AdminRoutes } from 'src/auth/admin/admin-routes.decorators';
import {
  CreatedWebhookDto,
  CreateWebhookDto,
  DeliveryListDto,
  ListDeliveriesQueryDto,
  RotatedWebhookSecretDto,
  RotateWebhookSecretDto,
  UpdateWebhookDto,
  WebhookDto,
  WebhookListDto,
} from 'src/events/dto/webhook.dto';
import { WebhooksService } from 'src/events/webhooks.service';
import { ParseUuidPipe } from 'src/validation/parse-uuid.pipe';

const NO_ENDPOINT = 'No such webhook endpoint.';
const NO_KEY = 'No encryption key is configured (`encryption_key_missing`); nothing was stored.';

@AdminRoutes('api/v1/admin/webhooks', 'webhooks')
@RequiresAdminScope('webhooks:admin')
@AdminRateLimitedResponse()
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({
    summary: 'Add a webhook endpoint (its signing secret is in this answer only)',
    description:
      'Events of the listed types are posted to `url` from now on, signed (Standard Webhooks) with the ' +
      'secret, or as Security Event Tokens (`format: "set"`). A URL the outbound policy refuses (not ' +
      '`https`, or a private, loopback or reserved address not in `WEBHOOK_ALLOWED_HOSTS`) is a 400.',
  })
  @ApiCreatedResponse({ type: CreatedWebhookDto })
  @ApiBadRequestResponse({
    description:
      'A URL that is not valid, too long or refused, unknown or no event types (`validation_failed`).',
  })
  @ApiServiceUnavailableResponse({ description: NO_KEY })
  create(@Audit() ctx: AuditContext, @Body() dto: CreateWebhookDto): Promise<CreatedWebhookDto> {
    return this.webhooks.create(ctx, dto);
  }

  @Get()
  @ApiOperation({ summary: 'Every webhook endpoint, newest first' })
  @ApiOkResponse({ type: WebhookListDto })
  list(): Promise<WebhookListDto> {
    return this.webhooks.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One webhook endpoint' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: WebhookDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: NO_ENDPOINT })
  get(@Param('id', ParseUuidPipe) id: string): Promise<WebhookDto> {
    return this.webhooks.get(id);
  }

  @Patch(':id')
  @ApiOperation({
    summary: 'Change a webhook endpoint (only the fields present)',
    description: 'A disabled endpoint is sent nothing; its queued deliveries wait until it is enabled again.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: WebhookDto })
  @ApiBadRequestResponse({
    description: 'The id is not a UUID, or a field is not valid (`validation_failed`).',
  })
  @ApiNotFoundResponse({ description: NO_ENDPOINT })
  update(
    @Audit() ctx: AuditContext,
    @Param('id', ParseUuidPipe) id: string,
    @Body() dto: UpdateWebhookDto,
  ): Promise<WebhookDto> {
    return this.webhooks.update(ctx, id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a webhook endpoint and its deliveries log' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiNoContentResponse({ description: 'Removed: nothing more is sent to it.' })
  @ApiBadRequestResponse({ description: 'The id is not a UUID.' })
  @ApiNotFoundResponse({ description: NO_ENDPOINT })
  delete(@Audit() ctx: AuditContext, @Param('id', ParseUuidPipe) id: string): Promise<void> {
    return this.webhooks.delete(ctx, id);
  }

  @Post(':id/rotate-secret')
  @ApiOperation({
    summary: 'A new signing secret (in this answer only); the old one also signs during the grace',
    description:
      'During the grace every delivery carries two signatures in `webhook-signature`, space-separated: ' +
      'a receiver verifies with either secret, so it can switch without losing an event.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiBody({ type: RotateWebhookSecretDto, required: false })
  @ApiCreatedResponse({ type: RotatedWebhookSecretDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID, or `graceSeconds` is not valid.' })
  @ApiNotFoundResponse({ description: NO_ENDPOINT })
  @ApiServiceUnavailableResponse({ description: NO_KEY })
  rotateSecret(
    @Audit() ctx: AuditContext,
    @Param('id', ParseUuidPipe) id: string,
    @Body() dto: RotateWebhookSecretDto,
  ): Promise<RotatedWebhookSecretDto> {
    return this.webhooks.rotateSecret(ctx, id, dto);
  }

  @Get(':id/deliveries')
  @ApiOperation({
    summary: 'The endpoint’s deliveries log, newest first',
    description: 'Outcomes only (status, HTTP status, duration, error kind): never the receiver’s answer.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: DeliveryListDto })
  @ApiBadRequestResponse({ description: 'The id is not a UUID, or `limit` is not valid.' })
  @ApiNotFoundResponse({ description: NO_ENDPOINT })
  deliveries(
    @Param('id', ParseUuidPipe) id: string,
    @Query() query: ListDeliveriesQueryDto,
  ): Promise<DeliveryListDto> {
    return this.webhooks.deliveries(id, query);
  }

  @Post(':id/deliveries/:deliveryId/retry')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send a delivery again (one more attempt, as soon as a worker is free)',
    description:
      'A delivered or failed delivery is queued again, with the same `webhook-id`; a pending one is left to ' +
      'its schedule.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiParam({ name: 'deliveryId', format: 'uuid' })
  @ApiAcceptedResponse({ description: 'Queued.' })
  @ApiBadRequestResponse({ description: 'An id is not a UUID.' })
  @ApiNotFoundResponse({ description: 'No such endpoint, or no such delivery of it.' })
  retry(
    @Audit() ctx: AuditContext,
    @Param('id', ParseUuidPipe) id: string,
    @Param('deliveryId', ParseUuidPipe) deliveryId: string,
  ): Promise<void> {
    return this.webhooks.retry(ctx, id, deliveryId);
  }
}
