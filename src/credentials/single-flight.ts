/**
 * In-process coalescing: while a call for `key` runs, later calls for the same key get its promise instead of
 * starting their own. The first layer of the access-token single flight (the row lock is the second, across
 * instances): one instance spends one database connection per credential, however many callers wait.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, call: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const started = call().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }
}

/**
 * At most `limit` holders at once; others queue (first come, first served) for at most `timeoutMs`, after
 * which `acquire` resolves to undefined.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async acquire(timeoutMs: number): Promise<(() => void) | undefined> {
    if (this.active < this.limit) {
      this.active++;
      return this.releaser();
    }
    return new Promise((resolve) => {
      const grant = (): void => {
        clearTimeout(timer);
        this.active++;
        resolve(this.releaser());
      };
      const timer = setTimeout(() => {
        const at = this.waiting.indexOf(grant);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.push(grant);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting.shift()?.();
    };
  }
}
