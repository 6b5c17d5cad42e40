import { Inject, Injectable } from '@nestjs/common';
import { isIP } from 'node:net';
import { credentialsConfig, type CredentialsConfig } from 'src/credentials/credentials.config';
import { classifyAddress } from 'src/http/outbound-address';

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
 * resolve elsewhere. At deposit, what is knowable without resolving (the scheme, a literal IP) is checked.
 */
@Injectable()
export class TokenEndpointPolicy {
  constructor(@Inject(credentialsConfig.KEY) private readonly config: CredentialsConfig) {}

  /** Why `endpoint` may not be called, as far as its text tells; undefined when it may be tried. */
  refuseUrl(endpoint: string): string | undefined {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'tokenEndpoint must be an absolute URL';
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'tokenEndpoint must be an http(s) URL';
    if (this.config.requireHttps && url.protocol !== 'https:') return 'tokenEndpoint must use https';
    if (url.username || url.password) return 'tokenEndpoint must not contain credentials';
    const host = url.hostname;
    if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return this.refuseAddress(host, host);
    return undefined;
  }

  /** Whether the operator allowed `hostname` (as a URL spells it) to resolve to any address. */
  isAllowlisted(hostname: string): boolean {
    return this.config.allowedTokenHosts.has(hostname.toLowerCase());
  }

  /** Why `address`, which `hostname` resolved to (or is), may not be connected to; undefined when it may. */
  refuseAddress(hostname: string, address: string): string | undefined {
    if (this.isAllowlisted(hostname)) return undefined;
    const cls = classifyAddress(address);
    if (cls === undefined) return 'tokenEndpoint resolved to something that is not an IP address';
    if (cls === 'public') return undefined;
    if (cls === 'loopback' && this.config.allowLoopback) return undefined;
    return `tokenEndpoint points to a ${cls} address, which is not allowed`;
  }
}
