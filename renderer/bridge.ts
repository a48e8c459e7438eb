import type { LatchApi } from '../common/ipc.ts';

declare global {
  interface Window {
    /** Provided by the preload (Electron) or the test bridge (browser tests); nothing else. */
    readonly latch?: LatchApi;
  }
}

/** The one way the window talks to main. */
export function bridge(): LatchApi {
  if (!window.latch) throw new Error('window.latch is missing: the window was opened without the Latch preload');
  return window.latch;
}
