import type { RevocationFeed, RevocationListener } from 'src/database/revocation-feed';

/**
 * The revocation feed as a cache sees it, for unit specs: whether it listens, the subscriber it calls, and its
 * barrier. Connecting and dropping both reset the subscriber (notifications may have been missed), as
 * RevocationFeed does. `asFeed` hands it to a cache's constructor.
 */
export class FakeRevocationFeed {
  listening = false;
  channel?: string;
  /** What the next barriers answer; `duringBarrier` runs while one is in flight (a revocation arriving). */
  barrierPasses = true;
  duringBarrier?: () => void;
  private listener?: RevocationListener;

  get asFeed(): RevocationFeed {
    return this as unknown as RevocationFeed;
  }

  subscribe(channel: string, listener: RevocationListener): void {
    this.channel = channel;
    this.listener = listener;
  }

  /** Connects (true) or drops (false): the subscriber starts from empty either way. */
  setListening(listening: boolean): void {
    this.listening = listening;
    this.listener?.reset();
  }

  revoked(ids: string[]): void {
    this.listener?.revoked(ids);
  }

  async barrier(): Promise<boolean> {
    if (!this.listening) return false;
    await Promise.resolve();
    this.duringBarrier?.();
    return this.barrierPasses;
  }
}
