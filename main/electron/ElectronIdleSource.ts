import { ErrorCode, LatchError } from '../../common/errors.ts';
import type { IdleSample, IdleSource } from '../core/idle/IdleSource.ts';

/** The part of Electron's powerMonitor the idle source uses. */
export interface IdlePowerMonitor {
  /** Seconds since the last keyboard or pointer input. */
  getSystemIdleTime(): number;
  getSystemIdleState(idleThresholdSeconds: number): 'active' | 'idle' | 'locked' | 'unknown';
}

/**
 * OS idle time through Electron's powerMonitor (the same system counters on macOS, Windows and
 * X11). Its resolution is one second; the engine polls about once a second, which is enough for
 * deadlines counted in minutes. main.ts wraps it in SuspendAwareIdleSource, so a suspend counts
 * as idle even where the OS counter stops.
 */
export class ElectronIdleSource implements IdleSource {
  readonly kind = 'electron';
  readonly #power: IdlePowerMonitor;
  #closed = false;

  constructor(power: IdlePowerMonitor) {
    if (typeof power?.getSystemIdleTime !== 'function') throw new LatchError(ErrorCode.CONFIG, 'ElectronIdleSource needs powerMonitor');
    this.#power = power;
  }

  sample(): Promise<IdleSample> {
    if (this.#closed) return Promise.reject(new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'idle source electron is closed'));
    try {
      const seconds = this.#power.getSystemIdleTime();
      if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`powerMonitor reported ${seconds}`);
      // 'locked' is reported whatever the threshold; 1 s keeps the call cheap.
      const locked = this.#power.getSystemIdleState(1) === 'locked';
      return Promise.resolve({ idleMs: Math.round(seconds * 1000), locked });
    } catch (err) {
      return Promise.reject(new LatchError(ErrorCode.IDLE_SAMPLE_FAILED, 'powerMonitor could not report idle time', { cause: err }));
    }
  }

  close(): void {
    this.#closed = true;
  }
}

export type SystemEvent = 'lock' | 'unlock' | 'suspend' | 'resume';

/** The part of powerMonitor's events the engine needs. */
export interface PowerEvents {
  on(event: 'lock-screen' | 'unlock-screen' | 'suspend' | 'resume', listener: () => void): unknown;
  removeListener(event: 'lock-screen' | 'unlock-screen' | 'suspend' | 'resume', listener: () => void): unknown;
}

const EVENT_MAP = { 'lock-screen': 'lock', 'unlock-screen': 'unlock', suspend: 'suspend', resume: 'resume' } as const;

/** Forwards lock, unlock, suspend and resume to the engine; returns the function that stops it. */
export function forwardPowerEvents(power: PowerEvents, systemEvent: (event: SystemEvent) => void): () => void {
  const removers = (Object.keys(EVENT_MAP) as Array<keyof typeof EVENT_MAP>).map((name) => {
    const listener = (): void => systemEvent(EVENT_MAP[name]);
    power.on(name, listener);
    return () => power.removeListener(name, listener);
  });
  return () => removers.forEach((remove) => remove());
}
