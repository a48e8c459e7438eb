import { formatDuration } from '../../common/durations.ts';
import type { EngineSnapshot } from '../../common/engineState.ts';

export type TrayState = 'signed-out' | 'connected' | 'warning' | 'offline';

/** A menu entry in the shape Electron's Menu.buildFromTemplate takes (the subset we use). */
export interface TrayMenuItem {
  label?: string;
  type?: 'normal' | 'separator' | 'submenu';
  enabled?: boolean;
  click?: () => void;
  submenu?: TrayMenuItem[];
}

/** What the tray menu can do; main.ts wires these to the engine and the window. */
export interface TrayActions {
  connect(resourceId: string): void;
  disconnect(resourceId: string): void;
  copyAddress(resourceId: string): void;
  renew(): void;
  openWindow(): void;
  signOut(): void;
  quit(): void;
}

export interface TrayView {
  state: TrayState;
  tooltip: string;
  menu: TrayMenuItem[];
}

export function trayState(snapshot: EngineSnapshot): TrayState {
  switch (snapshot.phase) {
    case 'active':
      return 'connected';
    case 'warning':
      return 'warning';
    case 'connecting':
    case 'offline':
      return 'offline';
    default:
      return 'signed-out';
  }
}

/**
 * The tray for one snapshot, `elapsedMs` after it arrived (the countdown runs between
 * snapshots). Pure: the controller applies it, tests read it.
 */
export function trayView(snapshot: EngineSnapshot, elapsedMs: number, actions: TrayActions): TrayView {
  const state = trayState(snapshot);
  const session = snapshot.session;
  let tooltip: string;
  let status: string;
  if (session && state !== 'signed-out') {
    const idle = formatDuration(Math.max(0, session.idleRemainingMs - elapsedMs));
    const absolute = formatDuration(Math.max(0, session.absoluteRemainingMs - elapsedMs));
    const lead = state === 'warning' ? 'Session ending' : state === 'offline' ? 'Offline' : 'Connected';
    tooltip = `Latch — ${lead}: idle timeout in ${idle}, session limit in ${absolute}`;
    status = `${session.user} — idle timeout in ${idle}`;
  } else if (snapshot.ended) {
    tooltip = `Latch — ${snapshot.ended.message}`;
    status = snapshot.ended.message;
  } else {
    tooltip = 'Latch — Signed out';
    status = 'Signed out';
  }

  const signedIn = session !== null && state !== 'signed-out';
  const menu: TrayMenuItem[] = [{ label: status, enabled: false }, { type: 'separator' }];
  if (signedIn) {
    for (const resource of snapshot.resources) {
      const tunnel = snapshot.tunnels.find((t) => t.resourceId === resource.id);
      const id = resource.id;
      menu.push({
        label: tunnel ? `${id} — ${tunnel.host}:${tunnel.port}` : id,
        type: 'submenu',
        submenu: tunnel
          ? [
              { label: 'Disconnect', click: () => actions.disconnect(id) },
              { label: `Copy local address (${tunnel.host}:${tunnel.port})`, click: () => actions.copyAddress(id) },
            ]
          : [
              { label: 'Connect', click: () => actions.connect(id) },
              { label: 'Copy local address', enabled: false },
            ],
      });
    }
    if (snapshot.resources.length > 0) menu.push({ type: 'separator' });
  }
  const canRenew = signedIn && session.renewalsLeft > 0 && (snapshot.warning === null || snapshot.warning.canRenew);
  menu.push(
    { label: 'Renew', enabled: canRenew, click: () => actions.renew() },
    { label: 'Open Latch', click: () => actions.openWindow() },
    signedIn ? { label: 'Sign out', click: () => actions.signOut() } : { label: 'Sign in…', click: () => actions.openWindow() },
    { type: 'separator' },
    { label: 'Quit', click: () => actions.quit() },
  );
  return { state, tooltip, menu };
}

/** The part of Electron's Tray the controller drives. */
export interface TrayLike {
  setImage(icon: string): void;
  setToolTip(text: string): void;
  setContextMenu(menu: unknown): void;
  on(event: 'click', listener: () => void): unknown;
  destroy(): void;
}

export interface TrayControllerOptions {
  /** Electron: `(icon) => new Tray(icon)`. */
  createTray: (icon: string) => TrayLike;
  /** Electron: Menu.buildFromTemplate. */
  buildMenu: (template: TrayMenuItem[]) => unknown;
  /** Icon file per state (assets/). */
  iconFor: (state: TrayState) => string;
  actions: TrayActions;
  /** Monotonic milliseconds; injectable for tests. */
  now: () => number;
  /** Re-render period of the countdown tooltip. */
  tickMs: number;
  setInterval: (fn: () => void, ms: number) => unknown;
  clearInterval: (handle: unknown) => void;
}

export function defaultTrayTiming(): Pick<TrayControllerOptions, 'now' | 'tickMs' | 'setInterval' | 'clearInterval'> {
  return {
    now: () => performance.now(),
    tickMs: 1000,
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
  };
}

/** Keeps the tray's icon, tooltip countdown and menu in step with the engine's snapshots. */
export class TrayController {
  readonly #options: TrayControllerOptions;
  readonly #tray: TrayLike;
  #snapshot: EngineSnapshot;
  #receivedAt: number;
  #state: TrayState | null = null;
  #menuKey = '';
  #timer: unknown = null;

  constructor(snapshot: EngineSnapshot, options: TrayControllerOptions) {
    this.#options = options;
    this.#snapshot = snapshot;
    this.#receivedAt = options.now();
    this.#tray = options.createTray(options.iconFor(trayState(snapshot)));
    this.#tray.on('click', () => options.actions.openWindow());
    this.#render();
  }

  update(snapshot: EngineSnapshot): void {
    this.#snapshot = snapshot;
    this.#receivedAt = this.#options.now();
    this.#render();
  }

  #render(): void {
    const view = trayView(this.#snapshot, this.#options.now() - this.#receivedAt, this.#options.actions);
    if (view.state !== this.#state) {
      this.#state = view.state;
      this.#tray.setImage(this.#options.iconFor(view.state));
    }
    this.#tray.setToolTip(view.tooltip);
    // Rebuilding the menu every second would close it under the user's pointer on some desktops.
    const key = JSON.stringify(view.menu.map((m) => [m.label?.replace(/idle timeout in .*/, ''), m.enabled, m.submenu?.map((s) => [s.label, s.enabled])]));
    if (key !== this.#menuKey) {
      this.#menuKey = key;
      this.#tray.setContextMenu(this.#options.buildMenu(view.menu));
    }
    const counting = this.#snapshot.session !== null && view.state !== 'signed-out';
    if (counting && this.#timer === null) this.#timer = this.#options.setInterval(() => this.#render(), this.#options.tickMs);
    if (!counting && this.#timer !== null) this.#stopTimer();
  }

  #stopTimer(): void {
    if (this.#timer !== null) this.#options.clearInterval(this.#timer);
    this.#timer = null;
  }

  destroy(): void {
    this.#stopTimer();
    this.#tray.destroy();
  }
}
