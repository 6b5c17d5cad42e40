import { SingleFlight } from 'src/credentials/single-flight';

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
