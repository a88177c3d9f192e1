/**
 * The `gatehouse:directory` diagnostics channel: the duration and outcome of the Redis
 * lookups made at each login, for metrics (directory latency and errors). Published only
 * when someone subscribes; the directory imports no metrics library.
 */
import diagnostics from 'node:diagnostics_channel';

export interface DirectoryLookupEvent {
  /** `user` (the user record) or `backend` (the back-end record). */
  readonly op: 'user' | 'backend';
  readonly durationMs: number;
  readonly ok: boolean;
  /** The DirectoryError code of a failure (`ERR_DIRECTORY_UNAVAILABLE`, `ERR_BAD_RECORD`, …). */
  readonly code?: string;
}

export const directoryChannel = diagnostics.channel('gatehouse:directory');

/** Times a lookup and publishes its outcome; returns the promise as it is. */
export function timedLookup<T>(op: DirectoryLookupEvent['op'], lookup: Promise<T>): Promise<T> {
  if (!directoryChannel.hasSubscribers) return lookup;
  const started = performance.now();
  lookup.then(
    () => directoryChannel.publish({ op, durationMs: performance.now() - started, ok: true } satisfies DirectoryLookupEvent),
    (err: unknown) => {
      const code = (err as { code?: unknown }).code;
      directoryChannel.publish({ op, durationMs: performance.now() - started, ok: false, ...(typeof code === 'string' ? { code } : {}) } satisfies DirectoryLookupEvent);
    },
  );
  return lookup;
}
