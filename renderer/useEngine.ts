import { useEffect, useState } from 'react';
import type { EngineSnapshot } from '../common/engineState.ts';
import { SIGNED_OUT } from '../common/engineState.ts';
import type { LatchApi } from '../common/ipc.ts';

export interface StampedSnapshot {
  snapshot: EngineSnapshot;
  /** performance.now() when it arrived: remaining times count down from here. */
  receivedAt: number;
}

/** The engine's latest snapshot: fetched once, then pushed by `session:changed`. */
export function useEngine(latch: LatchApi): { current: StampedSnapshot; loaded: boolean } {
  const [current, setCurrent] = useState<StampedSnapshot>({ snapshot: SIGNED_OUT, receivedAt: performance.now() });
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    let pushed = false;
    const off = latch.on('session:changed', (snapshot) => {
      pushed = true;
      setCurrent({ snapshot, receivedAt: performance.now() });
      setLoaded(true);
    });
    latch.session.snapshot().then(
      (snapshot) => {
        // A push that arrived meanwhile is newer than this answer.
        if (!pushed) setCurrent({ snapshot, receivedAt: performance.now() });
        setLoaded(true);
      },
      () => setLoaded(true),
    );
    return off;
  }, [latch]);
  return { current, loaded };
}

/** Re-renders every `intervalMs` and returns performance.now(). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(performance.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
