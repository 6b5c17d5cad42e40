import { Injectable } from '@nestjs/common';
import type { SessionPrincipal } from 'src/auth/principal';
import { ApiError } from 'src/errors/api-error';
import {
  DEFAULT_USAGE_WINDOW_HOURS,
  MAX_USAGE_WINDOW_DAYS,
  type AdminUsageQueryDto,
  type DeveloperKeyUsageQueryDto,
} from 'src/key-usage/dto/key-usage.dto';
import { KeyUsageRepository, type UsageOwner } from 'src/key-usage/key-usage.repository';
import { usageJson } from 'src/key-usage/usage-json';

const DEFAULT_WINDOW_MS = DEFAULT_USAGE_WINDOW_HOURS * 3_600_000;
const MAX_WINDOW_MS = MAX_USAGE_WINDOW_DAYS * 86_400_000;

/**
 * The usage reads (issue 23): a developer's keys by id, or every key of one user for an admin. Each answers the
 * `KeyUsageResponseDto` as JSON bytes, written by `usageJson` (up to 72,000 buckets: decision 0111).
 */
@Injectable()
export class KeyUsageService {
  constructor(private readonly usage: KeyUsageRepository) {}

  /** The session user's keys among `keyIds`; others' and unknown ids are left out alike. */
  forDeveloper(principal: SessionPrincipal, query: DeveloperKeyUsageQueryDto): Promise<Buffer> {
    // Each key once, answered with the id as the caller spelled it (a UUID's case is not significant).
    const asGiven = new Map<string, string>();
    for (const id of query.keyIds) if (!asGiven.has(id.toLowerCase())) asGiven.set(id.toLowerCase(), id);
    return this.answer(
      { keyIds: [...asGiven.keys()], externalId: principal.sub },
      query,
      (id) => asGiven.get(id) ?? id,
    );
  }

  /** Every key of the user `userId` (none for an unknown user). */
  forAdmin(query: AdminUsageQueryDto): Promise<Buffer> {
    return this.answer({ userId: query.userId }, query);
  }

  private async answer(
    owner: UsageOwner,
    query: { from?: string; to?: string; granularity?: 'hour' | 'day' },
    keyIdOf?: (storedId: string) => string,
  ): Promise<Buffer> {
    const { from, to } = usageWindow(query.from, query.to, Date.now());
    const granularity = query.granularity ?? 'hour';
    const rows = await this.usage.read(owner, from, to, granularity);
    // Only an hour read's text holds hours outside the window (whole days); a day read is folded to the window
    // in SQL, and its first bucket starts at its UTC day's start, before `from` when the window cuts that day.
    const window =
      granularity === 'hour' ? { from: from.getTime() / 1000, to: to.getTime() / 1000 } : undefined;
    return usageJson(rows, keyIdOf, window);
  }
}

/**
 * The window [from, to): `to` defaults to now, `from` to 24 hours before `to`; 400 when `from` is not before
 * `to` or the window is longer than 90 days.
 */
export function usageWindow(
  from: string | undefined,
  to: string | undefined,
  now: number,
): { from: Date; to: Date } {
  const end = to === undefined ? now : Date.parse(to);
  const start = from === undefined ? end - DEFAULT_WINDOW_MS : Date.parse(from);
  if (start >= end) throw invalid('from', 'from must be before to');
  if (end - start > MAX_WINDOW_MS) throw invalid('to', 'the window from from to to must be at most 90 days');
  return { from: new Date(start), to: new Date(end) };
}

function invalid(field: string, message: string): ApiError {
  return ApiError.validation(message, [{ field, messages: [message] }]);
}
