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
