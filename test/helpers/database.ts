import type { Provider } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { Client, type ClientConfig } from 'pg';
import { FEED_CLIENT_FACTORY, type FeedClientFactory } from 'src/database/revocation-feed';

export interface TestDatabase {
  url: string;
  /** Runs SQL against this file's database (for scanning rows, forcing states). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * A real outage for the app: the database refuses new connections and every other session on it is
   * terminated. `restore()` lets connections in again.
   */
  outage(): Promise<{ restore(): Promise<void> }>;
  drop(): Promise<void>;
}

function serverUrl(database: string): string {
  const base = process.env.KEYSMITH_TEST_PG_URL;
  if (!base)
    throw new Error('KEYSMITH_TEST_PG_URL is unset: run the suite through jest (test/global-setup.ts)');
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A fresh, empty database on the suite's server, so test files run in parallel without sharing rows. The
 * app (or `startModules`) applies the migrations when it starts on it, as in production.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `ks_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl('postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();

  const url = serverUrl(name);
  let client = new Client({ connectionString: url });
  await client.connect();
  // An outage terminates this connection too; the next query reconnects.
  const live = async (): Promise<Client> => {
    try {
      await client.query('SELECT 1');
    } catch {
      client = new Client({ connectionString: url });
      client.on('error', () => undefined);
      await client.connect();
    }
    return client;
  };
  client.on('error', () => undefined);
  return {
    url,
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      const result = await (await live()).query(sql, params);
      return result.rows as T[];
    },
    async outage() {
      const admin = new Client({ connectionString: serverUrl('postgres') });
      await admin.connect();
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      return {
        restore: async () => {
          await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
          await admin.end();
        },
      };
    },
    async drop(): Promise<void> {
      await client.end().catch(() => undefined);
      const a = new Client({ connectionString: serverUrl('postgres') });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await a.end();
    },
  };
}

/** One connection of the revocation listener, on a socket the test holds. */
export interface ListenerConnection {
  readonly client: Client;
  /**
   * A half-open socket: the connection stays open and looks alive, but nothing the server sends reaches
   * the listener any more (its heartbeats and the revocations included) until `resume()`.
   */
  stall(): void;
  /** Delivers again; whatever the server sent meanwhile arrives, in order. */
  resume(): void;
  /** The PostgreSQL backend serving this connection (`pg_stat_activity.pid`), asked on the connection. */
  backendPid(): Promise<number>;
}

/**
 * Every connection the revocation listener opens, through its FEED_CLIENT_FACTORY hook: each is a plain
 * pg Client on a socket this object opened, so a test can stall it or find its backend without reaching into
 * pg's or the listener's private fields. Pass `provider` to the app (`BootOptions.providers`).
 */
export class ListenerConnections {
  private readonly opened: ListenerConnection[] = [];

  readonly provider: Provider = {
    provide: FEED_CLIENT_FACTORY,
    useValue: ((config: ClientConfig): Client => this.open(config)) satisfies FeedClientFactory,
  };

  /** How many connections the listener opened so far (a reconnect opens another). */
  get count(): number {
    return this.opened.length;
  }

  /** The newest connection the listener opened. */
  get current(): ListenerConnection {
    const last = this.opened.at(-1);
    if (!last) throw new Error('the revocation listener opened no connection yet');
    return last;
  }

  private open(config: ClientConfig): Client {
    const socket = new Socket();
    const client = new Client({ ...config, stream: () => socket });
    this.opened.push({
      client,
      stall: () => socket.pause(),
      resume: () => socket.resume(),
      backendPid: async () =>
        (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
    });
    return client;
  }
}
