/** Every error `type` the API may answer with, and the HTTP status that goes with it (API.md, "Everywhere"). */
export const ERROR_STATUS = {
  validation_failed: 400,
  unauthorized: 401,
  invalid_api_key: 401,
  forbidden: 403,
  identity_not_allowed: 403,
  insufficient_scope: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  reauthorization_required: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal_error: 500,
  upstream_failed: 502,
  encryption_key_missing: 503,
  key_resolution_unavailable: 503,
  service_unavailable: 503,
} as const;

export type ErrorType = keyof typeof ERROR_STATUS;
