import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Client, type ClientConfig, type Notification } from 'pg';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';

/** What a cache of credentials hears from the feed. */
export interface RevocationListener {
  /** Ids revoked somewhere (on any instance), once their transaction committed. */
  revoked(ids: readonly string[]): void;
  /** The feed was (re)established or lost: revocations may have been missed, start from empty. */
  reset(): void;
  /** The listener's cache counts, read when /metrics is scraped. */
  stats?(): CacheStats;
}

/** Lookups a cache answered (`hits`) or left to the database (`misses`) since the start, and its entries. */
export interface CacheStats {
  hits: number;
  misses: number;
  entries: number;
}

// NOTIFY payloads must stay under 8000 bytes; ids are ASCII.
const MAX_PAYLOAD = 7_000;
const ID = /^[A-Za-z0-9-]{1,64}$/;
const CHANNEL = /^keysmith_[a-z0-9_]{1,40}$/;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** With nothing else going on, the feed proves it still receives this often. */
const HEARTBEAT_INTERVAL_MS = 1_000;
/**
 * `listening` holds only while the newest mark that came back was sent less than this long ago: caches stop
 * holding positives soon after the feed silently stops delivering (a half-open socket).
 */
export const TRUST_WINDOW_MS = 2_500;
/** No mark back for this long: the connection is dropped and re-established (caches restart). */
const HEARTBEAT_DEAD_MS = 5_000;
/** A barrier not passed by then answers "cannot tell": the caller asks the database instead. */
export const BARRIER_TIMEOUT_MS = 250;
/** The application_name of the feed's connection (pg_stat_activity). */
export const FEED_APPLICATION_NAME = 'keysmith-revocation-listener';
/** The application_name of the connections that only send marks (decision 0107). */
export const MARK_APPLICATION_NAME = 'keysmith-revocation-marks';
/**
 * Connections that only send marks, beside the listener's own: with the listener, at most this many + 1 marks
 * are in flight, so a barrier rarely queues behind a round trip it cannot use (decision 0107).
 */
export const MARK_SENDERS = 2;

/**
 * A mark: a NOTIFY in a transaction of its own. A NOTIFY takes a transaction id, so its commit writes a WAL
 * record and, by default, waits for the WAL to reach the disk: one fsync per mark, and a barrier stalled by
 * every slow flush (a checkpoint, a large write nearby). A mark needs no durability (after a crash the feed
 * reconnects and every cache starts over), only its place in the commit order, which an asynchronous commit
 * keeps: `synchronous_commit` is off for this transaction only (`set_config(..., true)`, safe behind a
 * transaction-mode pooler). Revocations themselves commit as configured (decision 0113).
 */
const MARK_SQL = "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)";

/** Opens the feed's connection: `new Client(config)` unless something is provided for the token below. */
export type FeedClientFactory = (config: ClientConfig) => Client;
/**
 * Test hook, never provided in production. A test provides a factory here to keep a handle on the feed's
 * connection, e.g. one whose socket it opened itself (`stream` in ClientConfig), to break it the way networks
 * do (a half-open socket that silently stops delivering) without reaching into pg's or this class's internals.
 */
export const FEED_CLIENT_FACTORY = Symbol('FEED_CLIENT_FACTORY');
/** Test hook, never provided in production: opens the connections that only send marks (MARK_SENDERS). */
export const MARK_CLIENT_FACTORY = Symbol('MARK_CLIENT_FACTORY');
const newClient: FeedClientFactory = (config) => new Client(config);

type Waiter = (passed: boolean) => void;

/** A mark sent and not back yet: the barriers it will pass were all asked for before it was sent. */
interface Mark {
  seq: number;
  /** performance.now() when it was handed to its connection. */
  sentAt: number;
  waiters: Waiter[];
  timer: NodeJS.Timeout;
}

/** A connection marks are sent on; `busy` while its NOTIFY has not returned. */
interface Sender {
  client: Client;
  busy: boolean;
  /** Gives this connection up (a mark sender that failed; the listener's loss is `lost`). */
  drop: (err: Error) => void;
}

/**
 * What the feed reports for /metrics (src/metrics binds one, decision 0105). Called on the hot path: each
 * method must be as cheap as incrementing a counter.
 */
export interface RevocationFeedObserver {
  /** A barrier that waited for a mark: how long (seconds), and whether it passed (false: the caller asks the database). */
  barrierWaited(seconds: number, passed: boolean): void;
  /** A mark came back after `seconds`: the delay a revocation committed when it was sent needed at most. */
  markReturned(seconds: number): void;
  /** The feed's connection was established again after it had been up before. */
  reconnected(): void;
}

/**
 * The feed's connection goes through a pooler (its backend is not the session pg connected to): LISTEN
 * there is deaf, so the feed refuses it (decision 0103).
 */
class PooledListenConnection extends Error {}

/**
 * Revocations of cached credentials (API keys, org tokens), announced to every instance through PostgreSQL
 * LISTEN/NOTIFY, so that a revoked credential fails on the very next request everywhere.
 *
 * Sending: whatever revokes calls `notify(channel, ids, manager)` inside its transaction; `pg_notify` is
 * delivered on commit and never if the transaction rolls back.
 *
 * Receiving: one dedicated connection per instance LISTENs on every subscribed channel and reconnects with
 * exponential backoff. While it is down nothing is trusted (caches go to the database); once it is back
 * every subscriber is reset, because notifications sent meanwhile are lost.
 *
 * Barriers: a notification reaches a session in commit order, whichever session committed it, so once a mark
 * NOTIFYed on this instance's mark channel at T comes back, every revocation committed before T has been
 * applied. A cache serves a positive answer only after `barrier()` passed — a mark sent after the call came
 * back — so a revocation committed before a request arrived always wins, whatever the scheduling of the
 * instances. Marks are pipelined (decision 0107): the listener's connection and MARK_SENDERS connections that
 * only send marks each carry one, so a barrier's mark leaves at the end of the event-loop turn it was asked in
 * (shared by that turn's barriers, decision 0113) unless every sender is busy; barriers asked meanwhile share
 * the next mark, and a mark passes every mark sent before it. The same marks are the
 * heartbeat: without any for HEARTBEAT_DEAD_MS (a half-open socket) the connection is replaced.
 */
@Injectable()
export class RevocationFeed implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RevocationFeed');
  private readonly listeners = new Map<string, RevocationListener>();
  private client?: Client;
  private stopped = false;
  private backoffMs = BACKOFF_MIN_MS;
  private retryTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  /** When the newest mark that came back was sent (performance.now()). */
  private markSentAt = 0;
  /** Marks in flight, by sequence number (sent in that order, on any sender). */
  private readonly inflight = new Map<number, Mark>();
  /** Barriers asked for while every sender was busy: they share the next mark sent. */
  private pending: Waiter[] = [];
  /** The end of the current event-loop turn, when the turn's barriers send their mark. */
  private flushSoon?: NodeJS.Immediate;
  private readonly flushNow = (): void => {
    this.flushSoon = undefined;
    this.flush();
  };
  /** Fails the pending barriers when no sender freed up within BARRIER_TIMEOUT_MS (all stalled). */
  private pendingTimer?: NodeJS.Timeout;
  private seq = 0;
  /** Marks numbered below this were sent on an earlier connection: ignored. */
  private firstSeq = 1;
  /** The listener's connection and the mark-only ones; the listener is first. */
  private senders: Sender[] = [];
  private connecting?: Promise<void>;
  /** Connections that only send marks; `bench/barrier-wait.ts` compares with none (0009's one at a time). */
  protected readonly markSenders: number = MARK_SENDERS;
  /** This instance's own channel for marks. */
  private readonly markChannel = `keysmith_mark_${randomBytes(8).toString('hex')}`;
  private observer?: RevocationFeedObserver;
  /** Whether the feed was connected once already (the next connection is a reconnect). */
  private connectedBefore = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Optional()
    @Inject(FEED_CLIENT_FACTORY)
    private readonly openClient: FeedClientFactory = newClient,
    @Optional()
    @Inject(MARK_CLIENT_FACTORY)
    private readonly openMarkClient: FeedClientFactory = newClient,
  ) {}

  /** Registers the cache of `channel`, from a constructor: channels are LISTENed when the app starts. */
  subscribe(channel: string, listener: RevocationListener): void {
    if (!CHANNEL.test(channel)) throw new Error(`revocation channel "${channel}" is not a keysmith_* name`);
    if (this.listeners.has(channel))
      throw new Error(`revocation channel "${channel}" has a listener already`);
    if (this.client)
      throw new Error('subscribe to the revocation feed before the app starts (in a constructor)');
    this.listeners.set(channel, listener);
  }

  /** Reports to `observer` from now on (one observer: the metrics of this instance). */
  observe(observer: RevocationFeedObserver): void {
    this.observer = observer;
  }

  /** Channels subscribed so far, with their listeners (for the metrics of each cache). */
  subscribed(): ReadonlyMap<string, RevocationListener> {
    return this.listeners;
  }

  /** Seconds since the newest mark that came back was sent (0 when none did): how stale the caches may be. */
  get staleness(): number {
    return this.client && this.markSentAt ? (performance.now() - this.markSentAt) / 1000 : 0;
  }

  /** True while the feed is connected and receiving (a recent mark came back): caches may hold positives. */
  get listening(): boolean {
    return this.client !== undefined && performance.now() - this.markSentAt < TRUST_WINDOW_MS;
  }

  /**
   * Resolves true once every revocation committed before this call has been applied to the caches (with
   * REVOCATION_MAX_STALENESS_MS = N > 0: every one committed more than N ms before it); false when the feed
   * cannot tell (not connected, or no mark came back within BARRIER_TIMEOUT_MS): then the caller
   * must ask the database.
   */
  barrier(): Promise<boolean> {
    if (!this.listening) return Promise.resolve(false);
    const staleness = this.config.revocationMaxStalenessMs;
    if (staleness > 0) {
      // The operator's trade (decision 0107): revocations committed up to `staleness` ms before this call may
      // be missed. Every revocation committed before a mark was sent has been applied once it is back.
      const oldest = performance.now() - staleness;
      if (this.markSentAt > oldest) {
        this.keepFresh(staleness);
        return Promise.resolve(true);
      }
      let soonest: Mark | undefined;
      for (const mark of this.inflight.values())
        if (mark.sentAt > oldest && (!soonest || mark.seq < soonest.seq)) soonest = mark;
      if (soonest) {
        const mark = soonest;
        return new Promise<boolean>((resolve) => mark.waiters.push(resolve));
      }
    }
    return new Promise<boolean>((resolve) => {
      const observer = this.observer;
      let waiter: Waiter = resolve;
      if (observer) {
        const start = performance.now();
        waiter = (passed) => {
          observer.barrierWaited((performance.now() - start) / 1000, passed);
          resolve(passed);
        };
      }
      // A mark already in flight may have committed before this call: only one sent from now on will do. It
      // leaves at the end of this event-loop turn, shared by every barrier asked in the turn (decision 0113).
      this.pending.push(waiter);
      this.flushSoon ??= setImmediate(this.flushNow);
    });
  }

  /** Queues a NOTIFY of `ids` on `channel` in the caller's transaction: it fires on commit, on every instance. */
  async notify(channel: string, ids: readonly string[], manager: EntityManager): Promise<void> {
    let chunk: string[] = [];
    let length = 0;
    const send = async (): Promise<void> => {
      if (chunk.length) await manager.query('SELECT pg_notify($1, $2)', [channel, chunk.join(',')]);
      chunk = [];
      length = 0;
    };
    for (const id of ids) {
      if (length + id.length + 1 > MAX_PAYLOAD) await send();
      chunk.push(id);
      length += id.length + 1;
    }
    await send();
  }

  /** This instance's revocations of `ids` on `channel`, applied at once (after the revoking commit). */
  revokedLocally(channel: string, ids: readonly string[]): void {
    if (ids.length) this.listeners.get(channel)?.revoked(ids);
  }

  async onModuleInit(): Promise<void> {
    // The first attempt is awaited so a healthy instance serves from its caches right away; a failure only
    // schedules retries and never blocks startup.
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    this.failWaiters();
    const senders = this.senders;
    this.senders = [];
    const clients = [...(client ? [client] : []), ...senders.slice(1).map((s) => s.client)];
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }

  private connect(): Promise<void> {
    this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    const url = this.config.databaseListenUrl ?? this.config.databaseUrl;
    if (this.stopped || !url) return;
    const client = this.openClient({
      connectionString: url,
      application_name: FEED_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => this.onNotification(msg));
    try {
      await client.connect();
      await this.checkDirect(client);
      for (const channel of [...this.listeners.keys(), this.markChannel])
        await client.query(`LISTEN ${channel}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      if (err instanceof PooledListenConnection) {
        // Loud, and at the longest backoff: caches stay off (every credential is checked in the database).
        this.backoffMs = BACKOFF_MAX_MS;
        this.logger.error({ err: err.message }, 'revocation listener refused its connection');
      } else {
        this.logger.warn({ err: (err as Error).message }, 'revocation listener could not connect; retrying');
      }
      this.scheduleRetry();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.resetAll();
    this.client = client;
    this.senders = [{ client, busy: false, drop: (err) => this.lost(client, err) }];
    this.firstSeq = this.seq + 1;
    this.backoffMs = BACKOFF_MIN_MS;
    this.markSentAt = performance.now();
    this.heartbeatTimer = setInterval(() => this.beat(client), HEARTBEAT_INTERVAL_MS).unref();
    if (this.connectedBefore) this.observer?.reconnected();
    this.connectedBefore = true;
    this.logger.log('revocation listener connected');
    for (let i = 0; i < this.markSenders; i++) void this.openSender(client);
  }

  /**
   * Refuses a connection that is not a session of its own on the server: through a pooler (PgBouncer in any
   * mode, a cloud proxy) the backend that runs the queries is not the one the pooler's BackendKeyData names.
   * In transaction mode LISTEN would stay on a server connection the pooler hands to others, and the feed
   * would go deaf while its own marks, landing there by chance, still came back (decision 0103).
   */
  private async checkDirect(client: Client): Promise<void> {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const announced = (client as unknown as { processID: number | null }).processID;
    if (rows[0]?.pid === announced) return;
    throw new PooledListenConnection(
      'the revocation feed needs a direct session, and its connection goes through a pooler: set ' +
        'DATABASE_LISTEN_URL to the PostgreSQL server itself (not the pooler); until then every credential ' +
        'is checked in the database',
    );
  }

  /**
   * Opens a connection that only sends marks, for as long as `listener` is the feed's connection. A mark
   * sender that fails is dropped (its marks time out: their barriers ask the database); the feed's next
   * connection opens new ones.
   */
  private async openSender(listener: Client): Promise<void> {
    const client = this.openMarkClient({
      connectionString: this.config.databaseUrl,
      application_name: MARK_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    const drop = (): void => {
      this.senders = this.senders.filter((s) => s !== sender);
      client.removeAllListeners('end');
      void client.end().catch(() => undefined);
    };
    const sender: Sender = { client, busy: false, drop };
    client.on('error', drop);
    client.on('end', drop);
    try {
      await client.connect();
    } catch (err) {
      drop();
      this.logger.warn({ err: (err as Error).message }, 'revocation mark sender could not connect');
      return;
    }
    if (this.stopped || this.client !== listener) return drop();
    this.senders.push(sender);
    this.flush();
  }

  /**
   * With a staleness allowance, a mark goes out once the newest one back is half the allowance old and none
   * is in flight, so that under steady load barriers keep passing at once.
   */
  private keepFresh(staleness: number): void {
    if (this.inflight.size || performance.now() - this.markSentAt < staleness / 2) return;
    const sender = this.senders.find((s) => !s.busy);
    if (sender) this.sendMark(sender, []);
  }

  /** Sends the pending barriers' mark on a free sender, if any is free (else the next one freed sends it). */
  private flush(): void {
    if (!this.pending.length) return;
    const sender = this.senders.find((s) => !s.busy);
    if (!sender) {
      this.pendingTimer ??= setTimeout(() => {
        this.pendingTimer = undefined;
        const waiting = this.pending;
        this.pending = [];
        for (const waiter of waiting) waiter(false);
      }, BARRIER_TIMEOUT_MS).unref();
      return;
    }
    clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
    const waiters = this.pending;
    this.pending = [];
    this.sendMark(sender, waiters);
  }

  /** Sends a mark for `waiters` (none: a heartbeat) on `sender`, which is busy until its NOTIFY returns. */
  private sendMark(sender: Sender, waiters: Waiter[]): void {
    const seq = ++this.seq;
    const timer = setTimeout(() => this.markTimedOut(seq), BARRIER_TIMEOUT_MS).unref();
    this.inflight.set(seq, { seq, sentAt: performance.now(), waiters, timer });
    sender.busy = true;
    sender.client.query(MARK_SQL, [this.markChannel, String(seq)]).then(
      () => {
        sender.busy = false;
        this.flush();
      },
      (err: Error) => sender.drop(err),
    );
  }

  private onNotification(msg: Notification): void {
    if (msg.channel === this.markChannel) {
      const seq = Number(msg.payload);
      if (!Number.isSafeInteger(seq) || seq < this.firstSeq) return;
      // Marks are numbered in the order they were sent, whichever connection sent them: mark `seq` was sent
      // after every mark numbered below it, so it passes their barriers too (they may come back later).
      for (const mark of [...this.inflight.values()]) {
        if (mark.seq > seq) continue;
        this.inflight.delete(mark.seq);
        clearTimeout(mark.timer);
        if (mark.sentAt > this.markSentAt) this.markSentAt = mark.sentAt;
        this.observer?.markReturned((performance.now() - mark.sentAt) / 1000);
        for (const waiter of mark.waiters) waiter(true);
      }
      return;
    }
    const listener = this.listeners.get(msg.channel);
    if (!listener || !msg.payload) return;
    listener.revoked(msg.payload.split(',').filter((id) => ID.test(id)));
  }

  /** A mark that did not come back in time: its barriers cannot tell (the heartbeat decides on the connection). */
  private markTimedOut(seq: number): void {
    const mark = this.inflight.get(seq);
    if (!mark) return;
    this.inflight.delete(seq);
    for (const waiter of mark.waiters) waiter(false);
  }

  /** The heartbeat: a mark when none is in flight, or gives the connection up when marks stopped coming back. */
  private beat(client: Client): void {
    if (this.client !== client) return;
    if (performance.now() - this.markSentAt >= HEARTBEAT_DEAD_MS) {
      this.lost(client, new Error(`no mark came back for ${HEARTBEAT_DEAD_MS} ms`));
      return;
    }
    const sender = this.senders.find((s) => !s.busy);
    if (this.inflight.size === 0 && sender) this.sendMark(sender, []);
  }

  private lost(client: Client, err?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearInterval(this.heartbeatTimer);
    this.failWaiters();
    this.resetAll();
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    // The mark senders go with it: the next connection opens its own.
    const senders = this.senders.slice(1);
    this.senders = [];
    for (const sender of senders) {
      sender.client.removeAllListeners('end');
      void sender.client.end().catch(() => undefined);
    }
    if (this.stopped) return;
    this.logger.warn(
      { err: err?.message },
      'revocation listener lost its connection; checking credentials in the database until it is back',
    );
    this.scheduleRetry();
  }

  private failWaiters(): void {
    const marks = [...this.inflight.values()];
    this.inflight.clear();
    const waiting = [...marks.flatMap((m) => m.waiters), ...this.pending];
    this.pending = [];
    clearImmediate(this.flushSoon);
    this.flushSoon = undefined;
    clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
    for (const mark of marks) clearTimeout(mark.timer);
    for (const waiter of waiting) waiter(false);
  }

  private resetAll(): void {
    for (const listener of this.listeners.values()) listener.reset();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => void this.connect(), delay).unref();
  }
}
