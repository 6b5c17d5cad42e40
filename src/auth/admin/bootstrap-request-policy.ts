import { isIP } from 'node:net';
import type { RequestFacts } from 'src/auth/request-facts';
import { isLoopbackHostname, isLoopbackIp } from 'src/config/loopback';

/** Where this service is reached: what the bootstrap tier takes for "our own" Host and origins. */
export interface BootstrapSite {
  /** OAUTH_CALLBACK_ORIGIN: the service's public origin. */
  callbackOrigin: string;
  /** HOST and PORT, the listen address. */
  listenHost: string;
  listenPort: number;
  /** ADMIN_BOOTSTRAP_ORIGINS: web origins (an admin UI elsewhere) allowed to bootstrap from any machine. */
  extraOrigins: readonly string[];
}

/** A host as a Host header carries it, split: hostname as `new URL()` spells it, port ('' when absent). */
interface HostPort {
  hostname: string;
  port: string;
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

function parseHost(host: string): HostPort | undefined {
  // A Host header is `host[:port]`: nothing that would make it a URL of its own.
  if (host === '' || /[/?#@\s\\]/.test(host)) return undefined;
  try {
    const url = new URL(`http://${host}`);
    return { hostname: url.hostname, port: url.port || (/:80$/.test(host) ? '80' : '') };
  } catch {
    return undefined;
  }
}

/** An origin's host and the ports a Host header may name it with (none means the scheme's default). */
function siteOf(origin: string): { hostname: string; ports: Set<string> } {
  const url = new URL(origin);
  const port = url.port || DEFAULT_PORTS[url.protocol] || '';
  return { hostname: url.hostname, ports: new Set(url.port ? [port] : ['', port]) };
}

/**
 * Who may use the bootstrap tier while it is open: only this machine, or a browser on a configured origin,
 * and only under the service's own Host.
 *
 * - **Host** (DNS rebinding: an attacker's name resolving to our address makes their page same-origin with
 *   us): the host[:port] of OAUTH_CALLBACK_ORIGIN or of an ADMIN_BOOTSTRAP_ORIGINS entry, the listen
 *   address when it is a specific one, or a loopback name or address on any port (no attacker can put those
 *   in a page's Host). A request without a Host header is refused too.
 * - **Origin** (a cross-site form or fetch): a browser's request with an `Origin` must come from the
 *   service's own origin (OAUTH_CALLBACK_ORIGIN, or the origin its Host header names: pages it serves
 *   itself, such as /api/docs) or from ADMIN_BOOTSTRAP_ORIGINS; `Origin: null` never passes;
 *   `Sec-Fetch-Site: cross-site` or `same-site` passes only with an ADMIN_BOOTSTRAP_ORIGINS origin.
 * - **Client**: the request carries no forwarding header (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, …), and
 *   its socket peer is loopback or it carries an ADMIN_BOOTSTRAP_ORIGINS origin (the public
 *   OAUTH_CALLBACK_ORIGIN does not count: anyone could send it). The socket peer, never the client IP that
 *   TRUST_PROXY derives from a header: a proxy or sidecar on this host gives every client a loopback peer,
 *   and any client can write a header, so a request that came through a proxy (or says it did) is refused
 *   whatever TRUST_PROXY says.
 */
export class BootstrapRequestPolicy {
  private readonly sites: { hostname: string; ports: Set<string> }[];
  private readonly ownOrigin: string;
  private readonly extraOrigins: ReadonlySet<string>;

  constructor(site: BootstrapSite) {
    this.ownOrigin = new URL(site.callbackOrigin).origin;
    this.extraOrigins = new Set(site.extraOrigins.map((o) => new URL(o).origin));
    this.sites = [this.ownOrigin, ...this.extraOrigins].map(siteOf);
    const listen = site.listenHost;
    if (isIP(listen) !== 0 && listen !== '0.0.0.0' && listen !== '::') {
      const hostname = isIP(listen) === 6 ? `[${listen}]` : listen;
      this.sites.push({ hostname, ports: new Set([String(site.listenPort)]) });
    }
  }

  /** Why the request may not use the bootstrap tier, or undefined when it may. Never echoes the request. */
  refusal(request: RequestFacts): string | undefined {
    const host = request.host === undefined ? undefined : parseHost(request.host);
    if (!host || !this.isOwnHost(host)) return 'its Host is not this service’s';
    const { origin, fetchSite } = request;
    const configured = origin !== undefined && this.extraOrigins.has(origin);
    const own = origin !== undefined && (origin === this.ownOrigin || isSameOrigin(origin, request.host!));
    if (origin !== undefined && !configured && !own) return 'it comes from another site’s page';
    if ((fetchSite === 'cross-site' || fetchSite === 'same-site') && !configured) {
      return 'it comes from another site’s page';
    }
    if (request.forwarded) return 'it carries a forwarding header (it came through a proxy, or claims to)';
    if (!configured && (request.peer === null || !isLoopbackIp(request.peer))) {
      return 'it comes from another machine without a configured origin';
    }
    return undefined;
  }

  private isOwnHost({ hostname, port }: HostPort): boolean {
    if (isLoopbackHostname(hostname)) return true;
    return this.sites.some((site) => site.hostname === hostname && site.ports.has(port));
  }
}

/** `origin` is http(s)://<the request's Host>: a page this service served. */
function isSameOrigin(origin: string, host: string): boolean {
  const lower = host.toLowerCase();
  return origin === `http://${lower}` || origin === `https://${lower}`;
}
