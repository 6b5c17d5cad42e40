const OWN_PARAMS = new Set(['state', 'redirect_uri']);

/**
 * The provider login URL a start answers: the provider's `authUrl` with `state` and `redirect_uri` added to
 * its query through the URL API. The configured query is kept as written (its other parameters, their order
 * and encoding) and the fragment stays last; a `state` or `redirect_uri` already in it is replaced, never
 * sent twice.
 */
export function buildAuthUrl(authUrl: string, state: string, redirectUri: string): string {
  const url = new URL(authUrl);
  const kept = url.search
    .slice(1)
    .split('&')
    .filter((pair) => pair !== '' && !OWN_PARAMS.has(paramName(pair)));
  const added = new URLSearchParams({ state, redirect_uri: redirectUri }).toString();
  url.search = [...kept, added].join('&');
  return url.toString();
}

function paramName(pair: string): string {
  const raw = pair.split('=', 1)[0]!.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Where the provider sends the user back: `OAUTH_CALLBACK_ORIGIN` + `/api/v1/auth/providers/<slug>/callback`. */
export function callbackUrl(origin: string, slug: string): string {
  return `${origin}/api/v1/auth/providers/${encodeURIComponent(slug)}/callback`;
}
