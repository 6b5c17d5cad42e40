/**
 * What the authentication services read of a request, extracted once by the guard: services take plain
 * values, never the framework's request object.
 */
export interface RequestFacts {
  /** `Authorization: Bearer <credential>`, or undefined. */
  credential: string | undefined;
  method: string;
  /** The path, without the query string. */
  path: string;
  /** The client IP as TRUST_PROXY decides it (rate limits, audit rows). */
  ip: string | null;
  /** The TCP peer's own address, whatever TRUST_PROXY or any header says (behind a proxy: the proxy). */
  peer: string | null;
  /** Whether a forwarding header (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, …) came with the request. */
  forwarded: boolean;
  requestId: string | null;
  /** The caller's own `x-request-id` when well-formed: kept apart from the request id, never in its place. */
  callerRequestId?: string | null;
  /** The `Host` header as sent (the bootstrap tier checks it is this service's own). */
  host: string | undefined;
  /** The `Origin` header: which page a browser's request comes from. */
  origin: string | undefined;
  /** The `Sec-Fetch-Site` header: `same-origin`, `same-site`, `cross-site` or `none`. */
  fetchSite: string | undefined;
}
