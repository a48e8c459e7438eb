import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, LatchError } from '../../common/errors.ts';
import { DEFAULT_SETTINGS, warningLeadBounds } from '../../common/ipc.ts';
import type { DesktopSettings, ManagedProxyView, SettingsView } from '../../common/ipc.ts';
import type { EffectivePolicy } from '../../common/session.ts';
import type { ManagedPolicy } from './policy/ManagedPolicy.ts';

export interface DesktopSettingsStoreOptions {
  /** Folder of settings.json (Electron: app.getPath('userData')). */
  dir: string;
  /** Values an administrator fixed (managed configuration); they win and cannot be changed. */
  managed: Partial<DesktopSettings>;
  /** Applies "start at login" to the OS (Electron: app.setLoginItemSettings). */
  applyStartAtLogin: (enabled: boolean) => void;
  /** The administrator's bounds on the warning lead time (policy/), narrowing the session's. */
  managedLeadBounds?: { minMs?: number; maxMs?: number };
  /**
   * The administrator's proxy (the managed policy's proxyUrl, caFingerprint, lockProxy), shown
   * pre-filled on the sign-in form and read-only when locked. main refuses another one at sign-in.
   */
  managedProxy?: Pick<ManagedPolicy, 'proxyUrl' | 'caFingerprint' | 'lockProxy'>;
}

export const SETTINGS_FILE = 'settings.json';

function parseStored(text: string): Partial<DesktopSettings> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof raw !== 'object' || raw === null) return {};
  const r = raw as Record<string, unknown>;
  const out: Partial<DesktopSettings> = {};
  if (typeof r['warningLeadMs'] === 'number' && Number.isFinite(r['warningLeadMs']) && r['warningLeadMs'] >= 0) out.warningLeadMs = r['warningLeadMs'];
  if (typeof r['startAtLogin'] === 'boolean') out.startAtLogin = r['startAtLogin'];
  return out;
}

/** What the window shows of the managed proxy: null when the administrator preset none. */
function managedProxyView(policy: DesktopSettingsStoreOptions['managedProxy']): ManagedProxyView | null {
  const proxyUrl = policy?.proxyUrl ?? null;
  const caFingerprint = policy?.caFingerprint ?? null;
  if (proxyUrl === null && caFingerprint === null) return null;
  // Locking needs a proxy to lock to (validatePolicy drops lockProxy without one; so does this).
  return { proxyUrl, caFingerprint, locked: policy?.lockProxy === true && proxyUrl !== null };
}

/**
 * The session's bounds narrowed by the administrator's. Where the two do not overlap the
 * session's policy wins (the proxy enforces it anyway): the result is clamped into it.
 */
function narrowBounds(session: { minMs: number; maxMs: number }, managed: { minMs?: number; maxMs?: number } | undefined): { minMs: number; maxMs: number } {
  if (!managed) return session;
  const clamp = (v: number): number => Math.min(session.maxMs, Math.max(session.minMs, v));
  const minMs = clamp(Math.max(session.minMs, managed.minMs ?? session.minMs));
  const maxMs = clamp(Math.min(session.maxMs, managed.maxMs ?? session.maxMs));
  return { minMs, maxMs: Math.max(minMs, maxMs) };
}

/**
 * The desktop's own settings, kept in settings.json (no secrets). The warning lead time is
 * checked against the policy in effect; a stored value outside newer bounds is clamped when read,
 * so a stricter policy never yields a warning later than it asks for.
 */
export class DesktopSettingsStore {
  readonly #options: DesktopSettingsStoreOptions;
  #stored: Partial<DesktopSettings> = {};
  #policy: EffectivePolicy | null = null;
  readonly #listeners = new Set<(view: SettingsView) => void>();

  constructor(options: DesktopSettingsStoreOptions) {
    if (typeof options.dir !== 'string' || options.dir === '') throw new LatchError(ErrorCode.CONFIG, 'DesktopSettingsStore: dir is required');
    this.#options = options;
  }

  /** Reads settings.json (a missing or damaged file means defaults) and applies start-at-login. */
  async load(): Promise<SettingsView> {
    try {
      this.#stored = parseStored(await readFile(join(this.#options.dir, SETTINGS_FILE), 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.#stored = {};
    }
    this.#options.applyStartAtLogin(this.view().settings.startAtLogin);
    return this.view();
  }

  /** The policy in effect changed (or the session ended: null): bounds move with it. */
  setPolicy(policy: EffectivePolicy | null): void {
    const before = JSON.stringify(this.view());
    this.#policy = policy;
    const after = this.view();
    if (JSON.stringify(after) !== before) this.#emit(after);
  }

  view(): SettingsView {
    const bounds = narrowBounds(warningLeadBounds(this.#policy), this.#options.managedLeadBounds);
    const merged: DesktopSettings = { ...DEFAULT_SETTINGS, ...this.#stored, ...this.#options.managed };
    const warningLeadMs = Math.min(bounds.maxMs, Math.max(bounds.minMs, merged.warningLeadMs));
    const locked = (Object.keys(this.#options.managed) as Array<keyof DesktopSettings>).filter((k) => this.#options.managed[k] !== undefined).sort();
    return { settings: { warningLeadMs, startAtLogin: merged.startAtLogin }, warningLeadBounds: bounds, locked, managedProxy: managedProxyView(this.#options.managedProxy) };
  }

  /** Changes settings: POLICY_LOCKED for a locked one, BAD_REQUEST for a lead time outside the bounds. */
  async set(patch: Partial<DesktopSettings>): Promise<SettingsView> {
    const view = this.view();
    for (const key of Object.keys(patch) as Array<keyof DesktopSettings>) {
      if (patch[key] !== undefined && view.locked.includes(key)) throw new LatchError(ErrorCode.POLICY_LOCKED, `${key} is set by your administrator`);
    }
    if (patch.warningLeadMs !== undefined) {
      const { minMs, maxMs } = view.warningLeadBounds;
      if (patch.warningLeadMs < minMs || patch.warningLeadMs > maxMs) {
        throw new LatchError(ErrorCode.BAD_REQUEST, `the warning lead time must be between ${Math.ceil(minMs / 1000)} s and ${Math.floor(maxMs / 1000)} s under the policy in effect`);
      }
    }
    const next: Partial<DesktopSettings> = { ...this.#stored };
    if (patch.warningLeadMs !== undefined) next.warningLeadMs = patch.warningLeadMs;
    if (patch.startAtLogin !== undefined) next.startAtLogin = patch.startAtLogin;
    await this.#write(next);
    this.#stored = next;
    if (patch.startAtLogin !== undefined) this.#options.applyStartAtLogin(this.view().settings.startAtLogin);
    const after = this.view();
    this.#emit(after);
    return after;
  }

  onChange(listener: (view: SettingsView) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(view: SettingsView): void {
    for (const listener of this.#listeners) listener(view);
  }

  async #write(settings: Partial<DesktopSettings>): Promise<void> {
    await mkdir(this.#options.dir, { recursive: true, mode: 0o700 });
    const file = join(this.#options.dir, SETTINGS_FILE);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  }
}
