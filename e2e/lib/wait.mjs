// Polling with a deadline: the suite's only way to wait for something.
// Sleeping a fixed time and hoping is what makes end-to-end suites flaky.

/**
 * Calls check every interval ms until it returns something other than
 * undefined or false, and returns that. A check that throws counts as "not
 * yet"; its last error goes into the timeout message with what was awaited.
 * An aborted signal ends the wait early.
 */
export async function waitFor(check, { timeout = 10_000, interval = 25, what = 'condition', signal } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${why}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
