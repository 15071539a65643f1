/**
 * Runs async tasks one at a time, in submission order. A DuckDB connection executes one statement
 * at a time and a transaction must own its connection from BEGIN to COMMIT; this is the lock.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    // The chain must survive a failed task; callers observe failures through `result`.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
