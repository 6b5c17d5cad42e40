/**
 * Every event keysmith announces (contract: "Events (webhooks)"). An endpoint subscribes to some of them, or
 * to `*` (all, including types added later).
 */
export const EVENT_TYPES = [
  'api_key.created',
  'api_key.rolled',
  'api_key.revoked',
  'api_key.disabled',
  'api_key.enabled',
  'api_key.expiring',
  'api_key.expired',
  'api_key.leaked',
  'org_token.created',
  'org_token.rolled',
  'org_token.revoked',
  'org_token.expiring',
  'user.disabled',
  'user.enabled',
  'credential.refresh_failed',
  'credential.recovered',
  'credential.reauthorization_required',
  'oauth_session.completed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** What an endpoint's `events` may hold: the types, or `*` for every type. */
export const ALL_EVENTS = '*';
export const SUBSCRIBABLE_EVENTS: readonly string[] = [...EVENT_TYPES, ALL_EVENTS];

/**
 * An event's `data`: ids, prefixes, labels, reasons and the user's id, never a secret. Values are plain JSON
 * (a Date is written as its ISO string).
 */
export type EventData = Record<string, string | number | boolean | null | readonly string[]>;
