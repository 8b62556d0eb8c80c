/**
 * aws-local-stepfunctions 3 calls Promise.withResolvers (Node 22+). Node 20 lacks it; this adds the standard
 * behaviour. Imported before the library by everything that runs state machines locally.
 */
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (v: T) => void; reject: (e?: unknown) => void };
const P = Promise as unknown as { withResolvers?: WithResolvers };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = <T>() => {
    let resolve!: (v: T) => void;
    let reject!: (e?: unknown) => void;
    const promise = new Promise<T>((a, b) => {
      resolve = a;
      reject = b;
    });
    return { promise, resolve, reject };
  };
}

export {};
