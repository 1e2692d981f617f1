/**
 * Polls `check` until it returns true, failing after `ms`: a bounded wait for an asynchronous effect (a row
 * written after the answer, a broadcast reaching another instance), never an assertion that time has passed.
 * Tests that depend on time move a `ManualClock` instead.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
