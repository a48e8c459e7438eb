import type { ManagedPolicy, UpdateChannel } from './policy/ManagedPolicy.ts';

/**
 * The part of electron-updater's AppUpdater this uses (autoUpdater satisfies it). Signature
 * checks are electron-updater's own and stay on: every download is checked against the sha512 in
 * the channel file; on Windows the installer's Authenticode publisher must match the running
 * app's (win.verifyUpdateCodeSignature); on macOS Squirrel.Mac only applies an update signed by
 * the same Developer ID.
 */
export interface Updater {
  autoDownload: boolean;
  autoInstallOnAppQuit: boolean;
  allowPrerelease: boolean;
  channel: string | null;
  checkForUpdates(): Promise<unknown>;
  quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'update-downloaded', listener: (info: { version: string }) => void): unknown;
}

export interface UpdateControllerOptions {
  updater: Updater;
  policy: ManagedPolicy;
  /** Electron: app.isPackaged. A development run has no app-update.yml and never updates. */
  isPackaged: boolean;
  log: (line: string) => void;
  /** First check this long after start, so start-up stays quick. */
  firstCheckMs: number;
  intervalMs: number;
  /** Timers must not keep the process alive (the default unrefs them). */
  setTimer: (fn: () => void, ms: number) => unknown;
  clearTimer: (timer: unknown) => void;
}

export function defaultUpdateOptions(): Pick<UpdateControllerOptions, 'firstCheckMs' | 'intervalMs' | 'setTimer' | 'clearTimer'> {
  return {
    firstCheckMs: 60_000,
    intervalMs: 4 * 3_600_000,
    setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
    clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
  };
}

export type UpdateState = { enabled: false; reason: 'policy' | 'development' } | { enabled: true; channel: UpdateChannel | null };

/**
 * Background updates, as the managed policy allows: off when autoUpdate is false, pinned to
 * updateChannel when set (electron-updater then also accepts a lower version on that channel,
 * so moving a fleet from beta back to latest works). Downloads happen in the background and
 * install when the app quits. A failed check is logged and tried again at the next interval.
 */
export class UpdateController {
  readonly #options: UpdateControllerOptions;
  #timer: unknown = null;
  #stopped = false;
  #downloaded: string | null = null;
  readonly state: UpdateState;

  constructor(options: UpdateControllerOptions) {
    this.#options = options;
    if (options.policy.autoUpdate === false) this.state = { enabled: false, reason: 'policy' };
    else if (!options.isPackaged) this.state = { enabled: false, reason: 'development' };
    else this.state = { enabled: true, channel: options.policy.updateChannel ?? null };
  }

  start(): UpdateState {
    const { updater, log } = this.#options;
    if (!this.state.enabled) {
      log(`updates off (${this.state.reason === 'policy' ? 'autoUpdate is false in the managed policy' : 'not a packaged build'})`);
      return this.state;
    }
    updater.autoDownload = true;
    updater.autoInstallOnAppQuit = true;
    if (this.state.channel !== null) {
      updater.channel = this.state.channel;
      updater.allowPrerelease = this.state.channel !== 'latest';
    }
    updater.on('error', (err) => log(`update failed: ${err.message}`));
    updater.on('update-downloaded', (info) => {
      this.#downloaded = info.version;
      log(`update ${info.version} downloaded; it installs when Latch quits`);
    });
    log(`updates on${this.state.channel === null ? '' : ` (channel ${this.state.channel}, set by the managed policy)`}`);
    this.#schedule(this.#options.firstCheckMs);
    return this.state;
  }

  /**
   * At quit: installs a downloaded update (silently, without starting the app again) and returns
   * true, the updater then quits the app; false when there is nothing to install. Needed because
   * Latch ends with app.exit() after closing its session, which skips the 'quit' event that
   * electron-updater's install-on-quit listens for.
   */
  installDownloaded(): boolean {
    this.stop();
    if (this.#downloaded === null) return false;
    this.#options.log(`installing update ${this.#downloaded}`);
    this.#options.updater.quitAndInstall(true, false);
    return true;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#options.clearTimer(this.#timer);
    this.#timer = null;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    const timer = this.#options.setTimer(() => {
      this.#timer = null;
      this.#check();
    }, ms);
    this.#timer = timer;
  }

  #check(): void {
    this.#options.updater.checkForUpdates().then(
      () => this.#schedule(this.#options.intervalMs),
      (err: unknown) => {
        this.#options.log(`update check failed: ${err instanceof Error ? err.message : String(err)}`);
        this.#schedule(this.#options.intervalMs);
      },
    );
  }
}
