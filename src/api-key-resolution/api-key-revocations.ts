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
import { ApiKeyCache } from 'src/api-key-resolution/api-key-cache';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';

/** The NOTIFY channel every revocation of an API key is announced on; the payload is key ids, comma-joined. */
export const REVOCATION_CHANNEL = 'keysmith_api_key_revoked';
// NOTIFY payloads must stay under 8000 bytes; key ids are ASCII (16 hex, or a provider key's id ≤ 64).
const MAX_PAYLOAD = 7_000;
const KEY_ID = /^[A-Za-z0-9]{1,64}$/;

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** The listener NOTIFYs itself this often; the cache trusts positives while one came back recently. */
const HEARTBEAT_INTERVAL_MS = 1_000;
/** No heartbeat back for this long: the connection is dropped and re-established (the cache restarts). */
const HEARTBEAT_DEAD_MS = 5_000;
/** The application_name of the listener's connection (pg_stat_activity). */
export const LISTENER_APPLICATION_NAME = 'keysmith-revocation-listener';

/** Opens the listener's connection: `new Client(config)` unless something is provided for the token below. */
export type ListenerClientFactory = (config: ClientConfig) => Client;
/**
 * Test hook, never provided in production. A test provides a factory here to keep a handle on the listener's
 * connection, e.g. one whose socket it opened itself (`stream` in ClientConfig), to break it the way networks
 * do (a half-open socket that silently stops delivering) without reaching into pg's or this class's internals.
 */
export const LISTENER_CLIENT_FACTORY = Symbol('LISTENER_CLIENT_FACTORY');
const newClient: ListenerClientFactory = (config) => new Client(config);

/**
 * Announces and receives API-key revocations, so a revoked key fails on the very next call on every
 * instance.
 *
 * Sending: every code path that revokes a key calls `notify(keyIds, manager)` inside its transaction;
 * `pg_notify` is delivered on commit and never if the transaction rolls back. Afterwards it may call
 * `invalidateLocally(keyIds)` to drop this instance's entries without waiting for the round trip.
 *
 * Receiving: a dedicated connection LISTENs on the channel and reconnects with exponential backoff. While it
 * is down the cache stops serving positive answers (every resolution goes to the database), and once it is
 * back the cache starts empty, because notifications sent meanwhile are lost.
 *
 * Heartbeat: a connection can look alive while nothing reaches it (a half-open socket). Every second the
 * listener NOTIFYs itself on a channel of its own; notifications reach a session in commit order, so when
 * the heartbeat sent at T arrives, every revocation committed before T has been applied. The cache serves
 * positives only while that T is under ApiKeyCache's TRUST_WINDOW_MS old, and after HEARTBEAT_DEAD_MS without one the
 * connection is replaced.
 */
@Injectable()
export class ApiKeyRevocations implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ApiKeyRevocations');
  private client?: Client;
  private stopped = false;
  private backoffMs = BACKOFF_MIN_MS;
  private retryTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private heartbeatInFlight = false;
  /** When the newest heartbeat that came back was sent. */
  private lastHeartbeatAt = 0;
  private connecting?: Promise<void>;
  /** This instance's own heartbeat channel. */
  private readonly heartbeatChannel = `keysmith_listener_${randomBytes(8).toString('hex')}`;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly cache: ApiKeyCache,
    @Optional()
    @Inject(LISTENER_CLIENT_FACTORY)
    private readonly openClient: ListenerClientFactory = newClient,
  ) {}

  /** Queues a NOTIFY for `keyIds` in the caller's transaction: it fires on commit, on every instance. */
  async notify(keyIds: readonly string[], manager: EntityManager): Promise<void> {
    let chunk: string[] = [];
    let length = 0;
    const send = async (): Promise<void> => {
      if (chunk.length)
        await manager.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, chunk.join(',')]);
      chunk = [];
      length = 0;
    };
    for (const keyId of keyIds) {
      if (length + keyId.length + 1 > MAX_PAYLOAD) await send();
      chunk.push(keyId);
      length += keyId.length + 1;
    }
    await send();
  }

  /** Drops this instance's cached answers for `keyIds`; call it after the revoking transaction committed. */
  invalidateLocally(keyIds: readonly string[]): void {
    if (keyIds.length) this.cache.invalidate(keyIds);
  }

  /** True while revocations are known to be received (the cache may serve positive answers). */
  get listening(): boolean {
    return this.cache.trustPositives;
  }

  async onModuleInit(): Promise<void> {
    // The first attempt is awaited so a healthy instance serves from the cache right away; a failure only
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
    await client?.end().catch(() => undefined);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    if (this.stopped || !this.config.databaseUrl) return;
    const client = this.openClient({
      connectionString: this.config.databaseUrl,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => this.onNotification(msg));
    try {
      await client.connect();
      await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
      await client.query(`LISTEN ${this.heartbeatChannel}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.logger.warn({ err: (err as Error).message }, 'revocation listener could not connect; retrying');
      this.scheduleRetry();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.backoffMs = BACKOFF_MIN_MS;
    this.cache.setTrustPositives(true);
    this.lastHeartbeatAt = Date.now();
    this.heartbeatInFlight = false;
    this.heartbeatTimer = setInterval(() => void this.beat(client), HEARTBEAT_INTERVAL_MS).unref();
    this.logger.log('revocation listener connected');
  }

  private onNotification(msg: Notification): void {
    if (msg.channel === this.heartbeatChannel) {
      const sentAt = Number(msg.payload);
      if (Number.isFinite(sentAt)) {
        this.lastHeartbeatAt = Math.max(this.lastHeartbeatAt, sentAt);
        this.cache.heartbeat(sentAt);
      }
      return;
    }
    if (msg.channel !== REVOCATION_CHANNEL || !msg.payload) return;
    this.cache.invalidate(msg.payload.split(',').filter((id) => KEY_ID.test(id)));
  }

  /** Sends the next heartbeat, or gives the connection up when heartbeats stopped coming back. */
  private async beat(client: Client): Promise<void> {
    if (this.client !== client) return;
    if (Date.now() - this.lastHeartbeatAt >= HEARTBEAT_DEAD_MS) {
      this.lost(client, new Error(`no heartbeat for ${HEARTBEAT_DEAD_MS} ms`));
      return;
    }
    // One at a time: on a stalled connection queries would otherwise pile up in the client.
    if (this.heartbeatInFlight) return;
    this.heartbeatInFlight = true;
    try {
      await client.query('SELECT pg_notify($1, $2)', [this.heartbeatChannel, String(Date.now())]);
    } catch (err) {
      this.lost(client, err as Error);
    } finally {
      if (this.client === client) this.heartbeatInFlight = false;
    }
  }

  private lost(client: Client, err?: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearInterval(this.heartbeatTimer);
    this.cache.setTrustPositives(false);
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    if (this.stopped) return;
    this.logger.warn(
      { err: err?.message },
      'revocation listener lost its connection; resolving from the database until it is back',
    );
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => void this.connect(), delay).unref();
  }
}
