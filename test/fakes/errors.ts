/** What a test asserts on a failure: class, `code`, `message`, `details`, `name`. */
export type Failure = Error & { code?: string; details?: unknown };

/** The error a synchronous call throws (fails the test when it does not throw). */
export function thrownBy(fn: () => unknown): Failure {
  try {
    fn();
  } catch (e) {
    return e as Failure;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejectionOf(work: Promise<unknown> | (() => Promise<unknown>)): Promise<Failure> {
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    return e as Failure;
  }
  throw new Error('expected the call to reject, but it resolved');
}
