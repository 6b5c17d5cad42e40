/**
 * The one date convention of answers: instants are ISO 8601 strings in UTC with milliseconds
 * (`2030-01-01T00:00:00.000Z`), absent ones `null`. Response DTOs type them as strings and map with these.
 */
export function iso(date: Date): string {
  return date.toISOString();
}

export function isoOrNull(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}
