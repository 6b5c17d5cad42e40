import { ValidateBy, type ValidationOptions } from 'class-validator';

export const MAX_ORIGIN_LENGTH = 300;

/**
 * `value` as a browser origin (`scheme://host[:port]`, lowercase, default port dropped), or null when it
 * is not one: only http and https, no credentials, path, query or fragment, and no trailing slash.
 */
export function normalizeOrigin(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ORIGIN_LENGTH) return null;
  if (value.endsWith('/') || /\s/.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/') return null;
  // `new URL` also accepts "https://a.com?" and "https://a.com#": the empty query or fragment is gone from
  // `search`/`hash` but still in the input.
  if (/[?#]/.test(value)) return null;
  return url.origin;
}

/** class-validator: each value (with `{each: true}`) is an origin per `normalizeOrigin`. */
export function IsOrigin(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isOrigin',
      validator: {
        validate: (value: unknown) => normalizeOrigin(value) !== null,
        defaultMessage: () =>
          '$property must contain origins like https://app.example.com[:port] (no path, query or trailing slash)',
      },
    },
    options,
  );
}
