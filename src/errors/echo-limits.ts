/**
 * Bounds on what an error answer (and its log line) repeats of the request. An error must not amplify its
 * input: a 59 KB body of unknown fields once produced a 388 KB 400, and a 404 echoed a 9,000-character path.
 */

/** Validation failures list at most this many `details` entries (the first ones). */
export const MAX_ERROR_DETAILS = 10;

/** A path, field name or message taken from the request is cut to this many characters. */
export const MAX_ECHOED_LENGTH = 200;

/** `text` cut to `max` characters (an ellipsis marks the cut), never splitting a surrogate pair. */
export function truncateEcho(text: string, max = MAX_ECHOED_LENGTH): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}
