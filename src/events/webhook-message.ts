import { Webhook } from 'standardwebhooks';
import type { TokenSigner } from 'src/crypto/signing/token-signer';
import type { WebhookFormat } from 'src/events/webhooks.repository';

/** The event as a delivery sends it. */
export interface OutgoingEvent {
  id: string;
  type: string;
  occurredAt: Date;
  data: Record<string, unknown>;
}

/** The `events` key of a Security Event Token for `type` (contract: `urn:keysmith:event:<type>`). */
export const setEventUri = (type: string): string => `urn:keysmith:event:${type}`;

/**
 * The body and headers of one attempt. `standard-webhooks`: JSON `{type, timestamp, data}`. `set`: a
 * Security Event Token (RFC 8417) signed with the service's signing key (`/.well-known/jwks.json`), pushed
 * as RFC 8935 describes; `jti` is the event id, `aud` the endpoint's URL. Both carry the Standard Webhooks
 * headers, signed with every secret given (the current one, and the previous one during a rotation's
 * grace, space-separated), with `webhook-id` the event id: the same on every attempt.
 */
export function webhookMessage(
  event: OutgoingEvent,
  endpoint: { url: string; format: WebhookFormat },
  secrets: readonly string[],
  signer: Pick<TokenSigner, 'signPayload' | 'issuer'>,
  now: Date,
): { body: string; headers: Record<string, string> } {
  const seconds = Math.floor(now.getTime() / 1000);
  const body =
    endpoint.format === 'set'
      ? signer.signPayload(
          {
            iss: signer.issuer,
            iat: seconds,
            jti: event.id,
            aud: endpoint.url,
            toe: Math.floor(event.occurredAt.getTime() / 1000),
            events: { [setEventUri(event.type)]: event.data },
          },
          'secevent+jwt',
        )
      : JSON.stringify({ type: event.type, timestamp: event.occurredAt.toISOString(), data: event.data });
  const signature = secrets.map((s) => new Webhook(s).sign(event.id, now, body)).join(' ');
  return {
    body,
    headers: {
      'content-type': endpoint.format === 'set' ? 'application/secevent+jwt' : 'application/json',
      accept: 'application/json',
      'user-agent': 'keysmith-webhooks',
      'webhook-id': event.id,
      'webhook-timestamp': String(seconds),
      'webhook-signature': signature,
    },
  };
}
