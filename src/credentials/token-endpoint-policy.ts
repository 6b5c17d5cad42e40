import { Inject, Injectable } from '@nestjs/common';
import { isIP } from 'node:net';
import { credentialsConfig, type CredentialsConfig } from 'src/credentials/credentials.config';
import { HostResolver } from 'src/http/host-resolver';
import { outboundAddressRule, type AddressRefusal } from 'src/http/outbound-address';

/** The URLs of a credential that keysmith calls: both under this one policy. */
export type EndpointField = 'tokenEndpoint' | 'revocationEndpoint';

/** RFC 6761 §6.3: `localhost` and every name under it are loopback, whatever a resolver would answer. */
const LOOPBACK_NAME = /(^|\.)localhost\.?$/;
/** How long a deposit waits for the token endpoint's name to resolve before judging it by its text alone. */
export const DEPOSIT_RESOLVE_TIMEOUT_MS = 2_000;

/**
 * Where token refreshes may go. A token endpoint is a URL a user chose, and keysmith calls it from inside
 * the network: without this policy it would be a way to reach internal services and cloud metadata.
 *
 * - `https` only when CREDENTIALS_REQUIRE_HTTPS (always in production).
 * - Only public addresses: loopback, private, link-local, unique-local, CGNAT, multicast, unspecified and
 *   reserved ranges are refused, and so are the IPv4-mapped, NAT64 and 6to4 forms of those. Loopback is
 *   allowed when CREDENTIALS_ALLOW_LOOPBACK (development and tests; never in production).
 * - A host named in CREDENTIALS_ALLOWED_TOKEN_HOSTS may resolve to any address (the scheme rule still holds).
 *
 * The address rule is applied to the addresses a name resolves to, at connection time, and the connection
 * is pinned to an address that passed (TokenEndpointClient), so a name cannot pass the check and then
 * resolve elsewhere. At deposit the same rule is applied once ahead of time (`refuseEndpoint`): the scheme,
 * a literal IP, `localhost` names (loopback by definition), and the addresses the name resolves to then, so
 * an endpoint that could never be called is refused when it is deposited, not at its first refresh.
 */
@Injectable()
export class TokenEndpointPolicy {
  /** Why `address`, which `hostname` resolved to (or is), may not be connected to; undefined when it may. */
  readonly refuseAddress: AddressRefusal;

  constructor(
    @Inject(credentialsConfig.KEY) private readonly config: CredentialsConfig,
    private readonly resolver: HostResolver,
  ) {
    this.refuseAddress = outboundAddressRule({
      what: 'tokenEndpoint',
      allowLoopback: config.allowLoopback,
      allowedHosts: config.allowedTokenHosts,
    });
  }

  /**
   * Why `endpoint` may not be called, as far as its text tells; undefined when it may be tried. `field` names
   * it in the answer: the token endpoint, or the revocation endpoint (RFC 7009), which follows the same rules.
   */
  refuseUrl(endpoint: string, field: EndpointField = 'tokenEndpoint'): string | undefined {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return `${field} must be an absolute URL`;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${field} must be an http(s) URL`;
    if (this.config.requireHttps && url.protocol !== 'https:') return `${field} must use https`;
    if (url.username || url.password) return `${field} must not contain credentials`;
    const host = url.hostname;
    if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return this.refuseAddress(host, host);
    if (LOOPBACK_NAME.test(host)) return this.refuseAddress(host, '127.0.0.1');
    return undefined;
  }

  /**
   * At deposit: `refuseUrl`, then the addresses the host name resolves to now, refused when every one of
   * them is. A name that does not resolve (yet), or not within DEPOSIT_RESOLVE_TIMEOUT_MS, is judged by its
   * text alone; every refresh checks the addresses again anyway.
   */
  async refuseEndpoint(
    endpoint: string,
    field: EndpointField = 'tokenEndpoint',
  ): Promise<string | undefined> {
    const refusal = this.refuseUrl(endpoint, field);
    if (refusal) return refusal;
    const host = new URL(endpoint).hostname;
    if (isIP(host.replace(/^\[|\]$/g, '')) !== 0 || this.isAllowlisted(host)) return undefined;
    const resolved = await this.resolveBriefly(host);
    if (resolved.length === 0) return undefined;
    const refusals = resolved.map((a) => this.refuseAddress(host, a.address));
    return refusals.every((r) => r !== undefined) ? refusals[0] : undefined;
  }

  /**
   * Why a resource indicator (RFC 8707) may not be stored; undefined when it may. It is only sent, never
   * called, so only the scheme rule applies: `https`, or `http` where token endpoints may be `http`.
   */
  refuseResource(resource: string): string | undefined {
    if (this.config.requireHttps && new URL(resource).protocol !== 'https:') return 'resource must use https';
    return undefined;
  }

  /** Whether the operator allowed `hostname` (as a URL spells it) to resolve to any address. */
  isAllowlisted(hostname: string): boolean {
    return this.config.allowedTokenHosts.has(hostname.toLowerCase());
  }

  private async resolveBriefly(host: string): Promise<{ address: string }[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<[]>((resolve) => {
      timer = setTimeout(() => resolve([]), DEPOSIT_RESOLVE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.resolver.resolve(host).catch(() => []), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
