/**
 * Ends what an end-to-end test started, in order, each step on its own: one that fails is
 * recorded and the next still runs, so a stuck caller cannot leave a server behind.
 */
export async function tearDown(
  steps: ReadonlyArray<[what: string, step: () => Promise<unknown>]>,
  mark: (what: string) => void,
): Promise<void> {
  for (const [what, step] of steps) {
    try {
      await step();
      mark(what);
    } catch (error) {
      mark(`${what}: FAILED ${String(error).split('\n')[0]}`);
    }
  }
}
