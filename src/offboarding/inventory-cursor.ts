import { createHash } from 'node:crypto';
import { isUUID } from 'class-validator';
import { ApiError } from 'src/errors/api-error';

/**
 * Where a page of an admin list ends: the last row's `created_at` in microseconds since the epoch (the
 * database's precision, so no row is skipped or repeated) and its id. Newest first, so the next page holds the
 * rows strictly before (createdAt, id).
 */
export interface InventoryPosition {
  createdAtUs: string;
  id: string;
}

const VERSION = 1;
const MAX_CURSOR_LENGTH = 256;
/** At most 16 digits: every instant up to the year 2286, none PostgreSQL could not add to the epoch. */
const MICROS = /^(0|[1-9][0-9]{0,15})$/;
const DIGEST = /^[A-Za-z0-9_-]{16}$/;

/**
 * A digest of the list and its filters: a cursor carries it, so a cursor handed to another list or another
 * filter is refused (400) instead of paging somewhere else. Not a secret and not a signature: a cursor someone
 * writes by hand can only name a position inside the same filter, which any page of it could reach too.
 */
export function filterDigest(list: string, filter: Record<string, string | number | undefined>): string {
  const canonical = JSON.stringify([
    list,
    Object.entries(filter)
      .filter(([, v]) => v !== undefined)
      .sort(),
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/** The opaque `nextCursor`: base64url of `[version, createdAtUs, id, digest]`. */
export function encodeCursor(position: InventoryPosition, digest: string): string {
  return Buffer.from(JSON.stringify([VERSION, position.createdAtUs, position.id, digest])).toString(
    'base64url',
  );
}

/**
 * The position a cursor names, for the list and filters of `digest`. Anything else (not base64url, not the
 * shape, another version, another filter's cursor) is 400 `validation_failed` naming `cursor`: never a 500,
 * never a page of another list.
 */
export function decodeCursor(cursor: string, digest: string): InventoryPosition {
  const refuse = (why: string): never => {
    const message = `cursor ${why}`;
    throw ApiError.validation(message, [{ field: 'cursor', messages: [message] }]);
  };
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor))
    return refuse('is not a cursor this list issued');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return refuse('is not a cursor this list issued');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 4 ||
    parsed[0] !== VERSION ||
    typeof parsed[1] !== 'string' ||
    !MICROS.test(parsed[1]) ||
    typeof parsed[2] !== 'string' ||
    !isUUID(parsed[2]) ||
    typeof parsed[3] !== 'string' ||
    !DIGEST.test(parsed[3])
  )
    return refuse('is not a cursor this list issued');
  if (parsed[3] !== digest) return refuse('belongs to another list or other filters: start again without it');
  return { createdAtUs: parsed[1], id: parsed[2] };
}
