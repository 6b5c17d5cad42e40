/** Polls `condition` (state, not time) until it holds; fails after `attempts` (25 ms apart). */
export async function eventually(condition: () => boolean | Promise<boolean>, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition never held');
}

/** Starts `count` calls at once (`call(i)` for i = 0..count-1) and waits for all of them. */
export function concurrently<T>(count: number, call: (i: number) => PromiseLike<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => call(i)));
}
