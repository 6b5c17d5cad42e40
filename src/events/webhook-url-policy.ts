import { Inject, Injectable } from '@nestjs/common';
import { isIP } from 'node:net';
import { eventsConfig, type EventsConfig } from 'src/events/events.config';
import { HostResolver } from 'src/http/host-resolver';
import { classifyAddress, outboundAddressRule, type AddressRefusal } from 'src/http/outbound-address';

/** RFC 6761 §6.3: `localhost` and every name under it are loopback, whatever a resolver would answer. */
const LOOPBACK_NAME = /(^|\.)localhost\.?$/;
/** How long creating an endpoint waits for its host to resolve before judging the URL by its text alone. */
const CREATE_RESOLVE_TIMEOUT_MS = 2_000;

/**
 * Where webhooks may be sent: the credentials' outbound policy (src/credentials/token-endpoint-policy.ts)
 * with its own variables. A webhook URL is chosen by an admin, but keysmith posts to it from inside the
 * network, so without this it would reach internal services and cloud metadata.
 *
 * - `https` where WEBHOOK_REQUIRE_HTTPS (always in production); `http` then only for a host named in
 *   WEBHOOK_ALLOWED_HOSTS, or a loopback host where WEBHOOK_ALLOW_LOOPBACK (development and tests).
 * - Public addresses only; loopback where WEBHOOK_ALLOW_LOOPBACK; any address for a host in
 *   WEBHOOK_ALLOWED_HOSTS.
 *
 * Checked when an endpoint is created or its URL changed (the text, then the addresses the name resolves to
 * then), and again at every delivery, on the addresses resolved then, with the connection pinned to one that
 * passed: a name that later resolves to a private address is refused (DNS can change).
 */
@Injectable()
export class WebhookUrlPolicy {
  readonly refuseAddress: AddressRefusal;

  constructor(
    @Inject(eventsConfig.KEY) private readonly config: EventsConfig,
    private readonly resolver: HostResolver,
  ) {
    this.refuseAddress = outboundAddressRule({
      what: 'url',
      allowLoopback: config.allowLoopback,
      allowedHosts: config.allowedHosts,
    });
  }

  /** Why `text` may not be a webhook URL as far as its text tells; undefined when it may. */
  refuseUrl(text: string): string | undefined {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return 'url must be an absolute URL';
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'url must be an https URL';
    if (url.username || url.password) return 'url must not contain credentials';
    const host = url.hostname;
    const bare = host.replace(/^\[|\]$/g, '');
    const loopback = LOOPBACK_NAME.test(host) || classifyAddress(bare) === 'loopback';
    if (
      url.protocol === 'http:' &&
      this.config.requireHttps &&
      !this.isAllowlisted(host) &&
      !(loopback && this.config.allowLoopback)
    )
      return 'url must use https';
    if (isIP(bare) !== 0) return this.refuseAddress(host, bare);
    if (LOOPBACK_NAME.test(host)) return this.refuseAddress(host, '127.0.0.1');
    return undefined;
  }

  /** `refuseUrl`, then the addresses the name resolves to now: refused when every one of them is. */
  async refuseEndpoint(text: string): Promise<string | undefined> {
    const refusal = this.refuseUrl(text);
    if (refusal) return refusal;
    const host = new URL(text).hostname;
    if (isIP(host.replace(/^\[|\]$/g, '')) !== 0 || this.isAllowlisted(host)) return undefined;
    const resolved = await this.resolveBriefly(host);
    if (resolved.length === 0) return undefined;
    const refusals = resolved.map((a) => this.refuseAddress(host, a.address));
    return refusals.every((r) => r !== undefined) ? refusals[0] : undefined;
  }

  isAllowlisted(hostname: string): boolean {
    return this.config.allowedHosts.has(hostname.toLowerCase());
  }

  private async resolveBriefly(host: string): Promise<{ address: string }[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<[]>((resolve) => {
      timer = setTimeout(() => resolve([]), CREATE_RESOLVE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.resolver.resolve(host).catch(() => []), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
