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
  ip: string | null;
  requestId: string | null;
}
