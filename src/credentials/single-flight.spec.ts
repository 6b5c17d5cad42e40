import { Semaphore, SingleFlight } from 'src/credentials/single-flight';

describe('SingleFlight', () => {
  it('shares one running call per key, and starts afresh once it settled', async () => {
    const flights = new SingleFlight<number>();
    let calls = 0;
    let finish!: (n: number) => void;
    const call = () => {
      calls++;
      return new Promise<number>((resolve) => (finish = resolve));
    };
    const a = flights.run('k', call);
    const b = flights.run('k', call);
    const other = flights.run('other', () => Promise.resolve(7));
    expect(calls).toBe(1);
    finish(42);
    expect(await Promise.all([a, b, other])).toEqual([42, 42, 7]);
    void flights.run('k', call);
    expect(calls).toBe(2);
    finish(0);
  });

  it('shares a failure too, and forgets it', async () => {
    const flights = new SingleFlight<number>();
    const boom = flights.run('k', () => Promise.reject(new Error('boom')));
    await expect(flights.run('k', () => Promise.resolve(1))).rejects.toThrow('boom');
    await expect(boom).rejects.toThrow('boom');
    await expect(flights.run('k', () => Promise.resolve(1))).resolves.toBe(1);
  });
});

describe('Semaphore', () => {
  it('admits up to its limit, then queues in order, and times out waiters', async () => {
    const slots = new Semaphore(2);
    const first = await slots.acquire(1000);
    const second = await slots.acquire(1000);
    expect(first && second).toBeTruthy();
    const order: string[] = [];
    const third = slots.acquire(10_000).then((r) => (order.push('third'), r));
    const fourth = slots.acquire(10_000).then((r) => (order.push('fourth'), r));
    expect(await slots.acquire(1)).toBeUndefined();
    first!();
    first!(); // releasing twice frees one slot only
    const thirdRelease = await third;
    expect(order).toEqual(['third']);
    second!();
    expect(await fourth).toBeDefined();
    expect(order).toEqual(['third', 'fourth']);
    thirdRelease!();
  });
});
