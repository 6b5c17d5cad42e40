/** Which bound left no slot free. */
export type SlotShortage = 'instance' | 'user' | 'host';

export interface RefreshSlotLimits {
  /** Refreshes running at once on this instance (each holds a database connection). */
  total: number;
  /** Of those, one user's. */
  perUser: number;
  /** Of those, to one token-endpoint host. */
  perHost: number;
}

/**
 * The refresh slots of one instance, shared fairly: a refresh takes a slot only when the instance, its user
 * and its token endpoint's host are all under their bounds, and never waits for one. Nobody queues behind
 * anybody: a user whose endpoints hang holds at most `perUser` slots (for at most the refresh timeout each)
 * and everyone else's refreshes run beside them; one host that hangs for every user holds at most `perHost`.
 * With `perUser` and `perHost` below `total`, one user, or one host, can never take the whole instance.
 */
export class RefreshSlots {
  private active = 0;
  private readonly users = new Map<string, number>();
  private readonly hosts = new Map<string, number>();

  constructor(private readonly limits: RefreshSlotLimits) {}

  /** A slot for a refresh of `user`'s credential at `host` (its release function), or which bound is full. */
  tryAcquire(user: string, host: string): { release: () => void } | { shortage: SlotShortage } {
    if ((this.users.get(user) ?? 0) >= this.limits.perUser) return { shortage: 'user' };
    if ((this.hosts.get(host) ?? 0) >= this.limits.perHost) return { shortage: 'host' };
    if (this.active >= this.limits.total) return { shortage: 'instance' };
    this.active++;
    increment(this.users, user, 1);
    increment(this.hosts, host, 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.active--;
        increment(this.users, user, -1);
        increment(this.hosts, host, -1);
      },
    };
  }

  /** Slots in use (for tests and metrics). */
  get inUse(): number {
    return this.active;
  }
}

/** Adds `by` to `key`'s count, forgetting keys that reach zero so the maps hold only what runs. */
function increment(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}
