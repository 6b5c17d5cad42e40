/** Bounds on one JWKS fetch: an identity provider that hangs or answers without end cannot hold us. */
export interface JwksFetchLimits {
  /** One deadline for connecting, the answer and the whole body. */
  timeoutMs: number;
  /** A bigger body is refused while it is read (real key sets are a few kilobytes). */
  maxBytes: number;
}

/** Fetches and parses a JWKS document; rejects on any failure. */
export type JwksFetcher = () => Promise<unknown>;

/**
 * GET `uri` as JSON within `limits`. Redirects are refused (a key set is configured by its exact URL), and so
 * is any status but 200. The body is counted while it streams, so an oversized answer is cut off early.
 */
export function httpJwksFetcher(uri: string, limits: JwksFetchLimits): JwksFetcher {
  return async () => {
    const res = await fetch(uri, {
      signal: AbortSignal.timeout(limits.timeoutMs),
      redirect: 'error',
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      throw new Error(`the JWKS endpoint answered ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > limits.maxBytes) {
      await res.body.cancel();
      throw new Error(`the JWKS is larger than ${limits.maxBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > limits.maxBytes) throw new Error(`the JWKS is larger than ${limits.maxBytes} bytes`);
      chunks.push(chunk);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw new Error('the JWKS is not JSON');
    }
  };
}
