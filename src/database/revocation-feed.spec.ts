import { EventEmitter } from 'node:events';
import type { Client, ClientConfig } from 'pg';
import type { AppConfig } from 'src/config/app-config';
import {
  BARRIER_TIMEOUT_MS,
  FEED_APPLICATION_NAME,
  MARK_SENDERS,
  RevocationFeed,
} from 'src/database/revocation-feed';

/**
 * A pg Client as the feed uses it, on no socket: every `pg_notify` it is asked to run waits until the spec
 * commits it (`commit`), and a commit reaches the listener only when the spec delivers it (`deliver`), in the
 * order the commits happened, as PostgreSQL does. Nothing here depends on time except the timeout specs.
 */
class FakeServer {
  /** Committed notifications not delivered to the listener yet, in commit order. */
  readonly queue: { channel: string; payload: string }[] = [];
  readonly clients: FakeClient[] = [];
  listener?: FakeClient;

  open = (config: ClientConfig): Client => {
    const client = new FakeClient(this, config);
    this.clients.push(client);
    return client as unknown as Client;
  };

  /** Every NOTIFY asked for and not committed yet, on any connection, oldest first. */
  get running(): { client: FakeClient; channel: string; payload: string }[] {
    return this.clients.flatMap((c) => c.running.map((r) => ({ client: c, ...r })));
  }

  /** Commits the NOTIFY of mark `seq` (its query returns). */
  commitMark(seq: number): void {
    const at = this.running.find((r) => r.payload === String(seq));
    if (!at) throw new Error(`mark ${seq} is not running`);
    at.client.commit(at.payload);
  }

  /** A revocation committed by another instance. */
  commitRevocation(channel: string, ids: string): void {
    this.queue.push({ channel, payload: ids });
  }

  /** Delivers every committed notification to the listener, in commit order. */
  deliver(): void {
    for (const msg of this.queue.splice(0)) this.listener?.emit('notification', msg);
  }
}

class FakeClient extends EventEmitter {
  running: { channel: string; payload: string; done: () => void }[] = [];
  /** The backend pid the server announced: the feed checks its session is its own (decision 0103). */
  readonly processID = 4242;

  constructor(
    private readonly server: FakeServer,
    readonly config: ClientConfig,
  ) {
    super();
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  query(text: string, values?: string[]): Promise<unknown> {
    if (text.includes('pg_backend_pid()')) return Promise.resolve({ rows: [{ pid: this.processID }] });
    if (text.startsWith('LISTEN')) {
      this.server.listener = this;
      return Promise.resolve({ rows: [] });
    }
    return new Promise((resolve) =>
      this.running.push({ channel: values![0]!, payload: values![1]!, done: () => resolve({ rows: [] }) }),
    );
  }

  commit(payload: string): void {
    const i = this.running.findIndex((r) => r.payload === payload);
    const [r] = this.running.splice(i, 1);
    this.server.queue.push({ channel: r!.channel, payload: r!.payload });
    r!.done();
  }

  end(): Promise<void> {
    return Promise.resolve();
  }
}

const CHANNEL = 'keysmith_test_revoked';
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** The end of the event-loop turn: barriers asked in it send their mark (decision 0113). */
const turn = flush;

describe('RevocationFeed: pipelined marks (decision 0107)', () => {
  let server: FakeServer;
  let feed: RevocationFeed;
  let revoked: string[];

  beforeEach(async () => {
    server = new FakeServer();
    feed = new RevocationFeed({ databaseUrl: 'postgres://fake/db' } as AppConfig, server.open, server.open);
    revoked = [];
    feed.subscribe(CHANNEL, { revoked: (ids) => revoked.push(...ids), reset: () => undefined });
    await feed.onModuleInit();
    await flush(); // the mark senders connect
  });

  afterEach(async () => {
    jest.useRealTimers();
    await feed.onApplicationShutdown();
  });

  const marksRunning = (): number[] => server.running.map((r) => Number(r.payload));

  it('opens the listener and MARK_SENDERS connections that only send marks', () => {
    expect(server.clients).toHaveLength(1 + MARK_SENDERS);
    expect(server.clients[0]!.config.application_name).toBe(FEED_APPLICATION_NAME);
    expect(server.clients.slice(1).map((c) => c.config.application_name)).toEqual(
      Array(MARK_SENDERS).fill('keysmith-revocation-marks'),
    );
    expect(feed.listening).toBe(true);
  });

  it('sends barriers asked in one event-loop turn one mark, at the end of the turn', async () => {
    const asked = [feed.barrier(), feed.barrier(), feed.barrier()];
    expect(marksRunning()).toEqual([]);
    await turn();
    expect(marksRunning()).toEqual([1]);
    server.commitMark(1);
    server.deliver();
    await expect(Promise.all(asked)).resolves.toEqual([true, true, true]);
  });

  it('sends a barrier its own mark while another mark is in flight, and passes it one round trip later', async () => {
    const first = feed.barrier();
    await turn();
    const second = feed.barrier();
    await turn();
    // Each got a mark sent after it was asked for, on two connections at once.
    expect(marksRunning()).toEqual([1, 2]);
    server.commitMark(2);
    server.deliver();
    // Mark 2 was sent after mark 1: it passes mark 1's barrier too, before mark 1 comes back.
    await expect(second).resolves.toBe(true);
    await expect(first).resolves.toBe(true);
  });

  it('never passes a barrier on a mark sent before it was asked for', async () => {
    const early = feed.barrier();
    await turn();
    expect(marksRunning()).toEqual([1]);
    // Another instance revokes, then this instance is asked: mark 1 may have committed before the revocation.
    server.commitMark(1);
    server.commitRevocation(CHANNEL, 'key-1');
    let lateSettled = false;
    const late = feed.barrier().then((passed) => {
      lateSettled = true;
      return passed;
    });
    server.deliver(); // mark 1 arrives, then the revocation
    await expect(early).resolves.toBe(true);
    await flush();
    expect(lateSettled).toBe(false);
    expect(marksRunning()).toEqual([2]);
    server.commitMark(2);
    server.deliver();
    await expect(late).resolves.toBe(true);
    expect(revoked).toEqual(['key-1']); // applied before the late barrier passed
  });

  it('passes a barrier only after every revocation committed before its mark was delivered', async () => {
    server.commitRevocation(CHANNEL, 'key-a');
    const order: string[] = [];
    const barrier = feed.barrier().then(() => order.push(`barrier after ${revoked.join(',')}`));
    await turn();
    server.commitMark(1);
    server.deliver();
    await barrier;
    expect(order).toEqual(['barrier after key-a']);
  });

  it('with every sender busy, barriers share the next mark, sent as soon as a sender frees up', async () => {
    const busy: Promise<boolean>[] = [];
    for (let i = 0; i < 1 + MARK_SENDERS; i++) {
      busy.push(feed.barrier());
      await turn();
    }
    expect(marksRunning()).toHaveLength(1 + MARK_SENDERS);
    const queued = [feed.barrier(), feed.barrier()];
    await turn();
    expect(marksRunning()).toHaveLength(1 + MARK_SENDERS);
    server.commitMark(1); // its connection is free again; the queued barriers' mark leaves on it
    await flush();
    expect(marksRunning().sort()).toEqual([2, 3, 4]);
    server.commitMark(4);
    server.deliver();
    await expect(Promise.all([...busy, ...queued])).resolves.toEqual(Array(5).fill(true));
  });

  it('answers false when the mark does not come back in time, and when queued barriers find no free sender', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const busy: Promise<boolean>[] = [];
    for (let i = 0; i < 1 + MARK_SENDERS; i++) {
      busy.push(feed.barrier());
      await turn();
    }
    const queued = feed.barrier();
    await turn();
    jest.advanceTimersByTime(BARRIER_TIMEOUT_MS);
    await expect(Promise.all([...busy, queued])).resolves.toEqual(Array(2 + MARK_SENDERS).fill(false));
    // A late mark is ignored.
    server.commitMark(1);
    server.deliver();
  });

  it('ignores marks sent on an earlier connection after the feed reconnected', async () => {
    const before = feed.barrier();
    server.listener!.emit('error', new Error('terminated'));
    await expect(before).resolves.toBe(false);
    expect(feed.listening).toBe(false);
    await expect(feed.barrier()).resolves.toBe(false);
  });
});

describe('RevocationFeed: REVOCATION_MAX_STALENESS_MS (decision 0107)', () => {
  const STALENESS = 50;
  let server: FakeServer;
  let feed: RevocationFeed;

  beforeEach(async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    server = new FakeServer();
    feed = new RevocationFeed(
      { databaseUrl: 'postgres://fake/db', revocationMaxStalenessMs: STALENESS } as AppConfig,
      server.open,
      server.open,
    );
    feed.subscribe(CHANNEL, { revoked: () => undefined, reset: () => undefined });
    await feed.onModuleInit();
    await flush();
    jest.advanceTimersByTime(STALENESS + 1); // the connection's own time no longer counts
  });

  afterEach(async () => {
    await feed.onApplicationShutdown();
    jest.useRealTimers();
  });

  const marksRunning = (): number[] => server.running.map((r) => Number(r.payload));

  it('passes at once while the newest mark back was sent less than the allowance ago', async () => {
    const first = feed.barrier();
    await turn();
    expect(marksRunning()).toEqual([1]);
    server.commitMark(1);
    server.deliver();
    await expect(first).resolves.toBe(true);
    jest.advanceTimersByTime(STALENESS - 10);
    await expect(feed.barrier()).resolves.toBe(true);
    // Half the allowance gone and nothing in flight: a mark keeps the next barriers passing at once.
    expect(marksRunning()).toEqual([2]);
  });

  it('uses a mark in flight sent within the allowance, and never one sent before it', async () => {
    const first = feed.barrier();
    await turn();
    jest.advanceTimersByTime(STALENESS - 10);
    const within = feed.barrier();
    await turn();
    expect(marksRunning()).toEqual([1]); // no mark of its own: mark 1 was sent 40 ms before it
    jest.advanceTimersByTime(20);
    const beyond = feed.barrier();
    await turn();
    expect(marksRunning().sort()).toEqual([1, 2]); // mark 1 is 60 ms old now: a mark of its own
    server.commitMark(1);
    server.deliver();
    await expect(Promise.all([first, within])).resolves.toEqual([true, true]);
    let settled = false;
    void beyond.then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    server.commitMark(2);
    server.deliver();
    await expect(beyond).resolves.toBe(true);
  });

  it('waits for a new mark once the newest back is older than the allowance', async () => {
    const first = feed.barrier();
    await turn();
    server.commitMark(1);
    server.deliver();
    await first;
    jest.advanceTimersByTime(STALENESS + 1);
    const late = feed.barrier();
    await turn();
    expect(marksRunning()).toEqual([2]);
    server.commitMark(2);
    server.deliver();
    await expect(late).resolves.toBe(true);
  });
});
