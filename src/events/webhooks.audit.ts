/** The audit actions of webhook endpoints (never a secret in their metadata: the URL, the types, a grace). */
export const WebhooksAudit = {
  Create: 'webhook.create',
  Update: 'webhook.update',
  Delete: 'webhook.delete',
  RotateSecret: 'webhook.rotate_secret',
  RetryDelivery: 'webhook.retry_delivery',
} as const;
