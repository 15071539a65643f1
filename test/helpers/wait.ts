/** Waits on a condition (short polling, overall deadline), never a fixed sleep: resolves with the probe's first defined value. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, deadlineMs = 10_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
