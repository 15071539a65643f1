import { describe, expect, it } from 'vitest';
import { SerialQueue } from './serial-queue.js';

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}
function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (a macrotask turn, not a timed sleep). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SerialQueue', () => {
  it('runs tasks one at a time, in submission order, whatever order they are released in', async () => {
    const queue = new SerialQueue();
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const finished: number[] = [];
    let active = 0;
    let maxActive = 0;

    const results = gates.map((gate, i) =>
      queue.run(async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        started.push(i);
        await gate.promise;
        active--;
        finished.push(i);
        return i * 10;
      }),
    );

    await settle();
    expect(started).toEqual([0]);

    // Releasing later tasks first must not let them start before task 0 finishes.
    gates[3]!.resolve();
    gates[2]!.resolve();
    await settle();
    expect(started).toEqual([0]);
    expect(active).toBe(1);

    gates[0]!.resolve();
    await settle();
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([0]);

    gates[1]!.resolve();
    expect(await Promise.all(results)).toEqual([0, 10, 20, 30]);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(finished).toEqual([0, 1, 2, 3]);
    expect(maxActive).toBe(1);
    expect(active).toBe(0);
  });

  it('a rejected task rejects its own promise only; later tasks still run, in order', async () => {
    const queue = new SerialQueue();
    const gate = deferred();
    const order: string[] = [];

    const first = queue.run(async () => {
      order.push('first');
      await gate.promise;
      throw new Error('boom');
    });
    const second = queue.run(async () => {
      order.push('second');
      return 'ok';
    });
    // A task that throws synchronously is a rejection too, and does not break the chain either.
    const third = queue.run((): Promise<never> => {
      order.push('third');
      throw new Error('sync boom');
    });
    const fourth = queue.run(async () => {
      order.push('fourth');
      return 4;
    });

    await settle();
    expect(order).toEqual(['first']);
    gate.resolve();

    await expect(first).rejects.toThrow('boom');
    await expect(second).resolves.toBe('ok');
    await expect(third).rejects.toThrow('sync boom');
    await expect(fourth).resolves.toBe(4);
    expect(order).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it('a task submitted after the queue went idle runs', async () => {
    const queue = new SerialQueue();
    await expect(queue.run(() => Promise.reject(new Error('first fails')))).rejects.toThrow('first fails');
    await expect(queue.run(async () => 'later')).resolves.toBe('later');
  });

  it('a task that enqueues another task does not deadlock when it does not wait for it', async () => {
    const queue = new SerialQueue();
    const order: string[] = [];
    let inner: Promise<string> | undefined;
    const outer = queue.run(async () => {
      order.push('outer start');
      inner = queue.run(async () => {
        order.push('inner');
        return 'inner done';
      });
      order.push('outer end');
      return 'outer done';
    });
    expect(await outer).toBe('outer done');
    expect(await inner).toBe('inner done');
    expect(order).toEqual(['outer start', 'outer end', 'inner']);
  });

  it('separate queues do not block each other', async () => {
    const a = new SerialQueue();
    const b = new SerialQueue();
    const gate = deferred();
    const blocked = a.run(() => gate.promise);
    await expect(b.run(async () => 'b ran')).resolves.toBe('b ran');
    gate.resolve();
    await blocked;
  });
});
