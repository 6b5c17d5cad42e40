import { Client } from 'pg';
import { FEED_APPLICATION_NAME } from 'src/database/revocation-feed';

export interface QuerySpy {
  /** SQL sent by the app's request work, in order. */
  statements(): string[];
  restore(): void;
}

/**
 * Counts the SQL the app sends, leaving out the revocation listener's own connection: its LISTENs and its
 * once-a-second heartbeat run on a timer, and would make "no query" assertions depend on timing.
 */
export function spyOnQueries(): QuerySpy {
  const spy = jest.spyOn(Client.prototype, 'query');
  const isListener = (client: unknown): boolean =>
    (client as { connectionParameters?: { application_name?: string } } | undefined)?.connectionParameters
      ?.application_name === FEED_APPLICATION_NAME;
  return {
    statements: () =>
      spy.mock.calls
        .filter((_, i) => !isListener(spy.mock.contexts[i]))
        .map(([q]) => (typeof q === 'string' ? q : ((q as { text?: string } | undefined)?.text ?? ''))),
    restore: () => spy.mockRestore(),
  };
}
