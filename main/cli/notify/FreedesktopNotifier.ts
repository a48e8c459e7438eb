import { existsSync } from 'node:fs';
import { join } from 'node:path';
import dbus from 'dbus-next';
import { ErrorCode, LatchError } from '../../../common/errors.ts';
import { NotificationCloseReason, NotificationHandle, type NotificationRequest, type Notifier, type Urgency } from '../../core/notify/Notifier.ts';

export const NOTIFICATIONS = {
  name: 'org.freedesktop.Notifications',
  path: '/org/freedesktop/Notifications',
  iface: 'org.freedesktop.Notifications',
} as const;

/** The spec's urgency byte. */
const URGENCY_BYTE: Record<Urgency, number> = { low: 0, normal: 1, critical: 2 };

/** The spec's NotificationClosed reasons: 1 expired, 2 dismissed by the user, 3 CloseNotification, 4 undefined. */
export function closeReasonFromCode(code: number): NotificationCloseReason {
  if (code === 1) return NotificationCloseReason.EXPIRED;
  if (code === 2) return NotificationCloseReason.DISMISSED;
  if (code === 3) return NotificationCloseReason.CLOSED;
  return NotificationCloseReason.UNKNOWN;
}

/** The action key a click on the notification's body sends (freedesktop spec). */
export const DEFAULT_ACTION_KEY = 'default';

export interface FreedesktopNotifierOptions {
  /** Session bus address; by default DBUS_SESSION_BUS_ADDRESS, else the systemd user bus under XDG_RUNTIME_DIR. */
  busAddress: string | undefined;
  appName: string;
  /** Icon name or file:// URI; '' for none. */
  icon: string;
  /** Bound on connecting and on each call to the notification daemon. */
  timeoutMs: number;
  /**
   * expire_timeout in ms: 0 keeps a warning up until the user acts or we close it (the engine
   * replaces or closes it when the session is renewed or ends); -1 leaves it to the server.
   */
  expireTimeoutMs: number;
  /**
   * Also offer the first action as the spec's `default` action, so that a click on the
   * notification's body renews (servers that show no buttons, e.g. with one action, still work).
   * The handle reports it under the first action's id.
   */
  clickRunsFirstAction: boolean;
}

export function defaultFreedesktopNotifierOptions(env: NodeJS.ProcessEnv = process.env): FreedesktopNotifierOptions {
  return { busAddress: sessionBusAddress(env), appName: 'Latch', icon: '', timeoutMs: 3_000, expireTimeoutMs: 0, clickRunsFirstAction: true };
}

/** Where libdbus would find the session bus, or undefined. */
export function sessionBusAddress(env: NodeJS.ProcessEnv): string | undefined {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  if (env.XDG_RUNTIME_DIR && existsSync(join(env.XDG_RUNTIME_DIR, 'bus'))) return `unix:path=${join(env.XDG_RUNTIME_DIR, 'bus')}`;
  return undefined;
}

interface Shown {
  handle: NotificationHandle;
  /** The server's id. */
  id: number;
  /** Maps the action keys we sent back to the request's action ids. */
  actionIds: Map<string, string>;
}

/**
 * Desktop notifications with actions over the freedesktop Notifications D-Bus API (GNOME, KDE,
 * dunst, mako, xfce4-notifyd...). Signals are sent only to the client that called Notify, so one
 * long-lived connection (dbus-next, pure JS) both sends Notify and receives ActionInvoked and
 * NotificationClosed; only signals from the daemon that answered, for ids this notifier holds,
 * are believed. A lost connection closes every handle (reason `unknown`) and the next show()
 * connects again.
 */
export class FreedesktopNotifier implements Notifier {
  readonly kind = 'freedesktop';
  readonly supportsActions = true;
  readonly #options: FreedesktopNotifierOptions;
  #bus: Promise<dbus.MessageBus> | undefined;
  /** The bus #bus resolved to, once connected. */
  #connected: dbus.MessageBus | undefined;
  #daemon: string | undefined;
  readonly #byId = new Map<number, Shown>();
  readonly #byKey = new Map<string, Shown>();
  #closed = false;

  constructor(options: Partial<FreedesktopNotifierOptions> = {}) {
    this.#options = { ...defaultFreedesktopNotifierOptions(), ...options };
    if (!(this.#options.timeoutMs > 0)) throw new LatchError(ErrorCode.CONFIG, 'FreedesktopNotifier: timeoutMs must be positive');
    if (!Number.isInteger(this.#options.expireTimeoutMs) || this.#options.expireTimeoutMs < -1) {
      throw new LatchError(ErrorCode.CONFIG, 'FreedesktopNotifier: expireTimeoutMs must be -1, 0 or a positive integer');
    }
  }

  /** How many notifications this notifier shows right now. */
  get openCount(): number {
    return this.#byId.size;
  }

  async show(request: NotificationRequest): Promise<NotificationHandle> {
    if (this.#closed) throw new LatchError(ErrorCode.NOTIFY_FAILED, 'the notifier is closed');
    const bus = await this.#connect();
    const previous = this.#byKey.get(request.id);
    const actionIds = new Map<string, string>();
    const actions: string[] = [];
    for (const action of request.actions) {
      if (action.id === DEFAULT_ACTION_KEY) throw new LatchError(ErrorCode.NOTIFY_FAILED, `action id '${DEFAULT_ACTION_KEY}' is reserved`);
      actions.push(action.id, action.label);
      actionIds.set(action.id, action.id);
    }
    const first = request.actions[0];
    if (this.#options.clickRunsFirstAction && first) {
      actions.push(DEFAULT_ACTION_KEY, first.label);
      actionIds.set(DEFAULT_ACTION_KEY, first.id);
    }
    const reply = await this.#call(bus, 'Notify', 'susssasa{sv}i', [
      this.#options.appName,
      previous?.id ?? 0,
      this.#options.icon,
      request.title,
      request.body,
      actions,
      { urgency: new dbus.Variant('y', URGENCY_BYTE[request.urgency]) },
      this.#options.expireTimeoutMs,
    ]);
    const id: unknown = reply.body[0];
    if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0) {
      throw new LatchError(ErrorCode.NOTIFY_FAILED, `the notification daemon returned no id (${String(id)})`);
    }
    this.#daemon = reply.sender;
    // Replaced in place: the earlier handle is over, though the server sends no signal for it.
    if (previous) this.#forget(previous, NotificationCloseReason.CLOSED);
    const handle = new NotificationHandle(request, () => this.#closeNotification(id));
    const shown: Shown = { handle, id, actionIds };
    this.#byId.set(id, shown);
    this.#byKey.set(request.id, shown);
    handle.once('closed', () => this.#untrack(shown));
    return handle;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const open = [...this.#byId.values()];
    await Promise.allSettled(open.map((shown) => shown.handle.close()));
    for (const shown of open) this.#forget(shown, NotificationCloseReason.CLOSED);
    const bus = this.#bus;
    this.#bus = undefined;
    this.#connected = undefined;
    if (bus) (await bus.catch(() => undefined))?.disconnect();
  }

  #connect(): Promise<dbus.MessageBus> {
    this.#bus ??= this.#open().catch((err: unknown) => {
      this.#bus = undefined;
      throw err;
    });
    return this.#bus;
  }

  async #open(): Promise<dbus.MessageBus> {
    const address = this.#options.busAddress;
    if (!address) {
      throw new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, 'desktop notifications need the session bus: DBUS_SESSION_BUS_ADDRESS is not set and XDG_RUNTIME_DIR/bus does not exist');
    }
    let bus: dbus.MessageBus;
    try {
      bus = dbus.sessionBus({ busAddress: address });
    } catch (err) {
      throw new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, `cannot use the session bus address ${address}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
        bus.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        bus.once('error', (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        });
      });
    } catch (err) {
      bus.disconnect();
      throw new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, `cannot connect to the session bus ${address}: ${(err as Error).message}`, { cause: err });
    }
    // After connecting, a socket error means the connection is gone.
    bus.on('error', () => this.#lost(bus));
    bus.on('message', (msg: dbus.Message) => this.#onMessage(msg));
    // Daemons address these signals to us, but some broadcast them: ask for both.
    const rule = `type='signal',sender='${NOTIFICATIONS.name}',interface='${NOTIFICATIONS.iface}',path='${NOTIFICATIONS.path}'`;
    await this.#callRaw(bus, { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] }).catch((err: unknown) => {
      bus.disconnect();
      throw err;
    });
    this.#connected = bus;
    return bus;
  }

  #onMessage(msg: dbus.Message): void {
    if (msg.type !== dbus.MessageType.SIGNAL || msg.interface !== NOTIFICATIONS.iface || msg.path !== NOTIFICATIONS.path) return;
    if (this.#daemon === undefined || msg.sender !== this.#daemon) return;
    const [id, detail] = msg.body as [unknown, unknown];
    if (typeof id !== 'number') return;
    const shown = this.#byId.get(id);
    if (!shown) return;
    if (msg.member === 'ActionInvoked' && typeof detail === 'string') {
      const actionId = shown.actionIds.get(detail);
      if (actionId !== undefined) shown.handle.invoke(actionId);
    } else if (msg.member === 'NotificationClosed' && typeof detail === 'number') {
      this.#forget(shown, closeReasonFromCode(detail));
    }
  }

  async #closeNotification(id: number): Promise<void> {
    const bus = this.#bus;
    if (!bus || !this.#byId.has(id)) return;
    await this.#call(await bus, 'CloseNotification', 'u', [id]);
  }

  #call(bus: dbus.MessageBus, member: string, signature: string, body: unknown[]): Promise<dbus.Message> {
    return this.#callRaw(bus, { destination: NOTIFICATIONS.name, path: NOTIFICATIONS.path, interface: NOTIFICATIONS.iface, member, signature, body });
  }

  async #callRaw(bus: dbus.MessageBus, message: dbus.MessageLike): Promise<dbus.Message> {
    const { timeoutMs } = this.#options;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LatchError(ErrorCode.NOTIFY_FAILED, `${message.member ?? 'call'} got no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const reply = await Promise.race([bus.call(new dbus.Message(message)), timeout]);
      if (!reply) throw new LatchError(ErrorCode.NOTIFY_FAILED, `${message.member ?? 'call'} got no reply`);
      return reply;
    } catch (err) {
      if (err instanceof LatchError) {
        // A daemon or bus that stopped answering: start over with a fresh connection next time.
        this.#lost(bus);
        throw err;
      }
      if (err instanceof dbus.DBusError) {
        if (err.type === 'org.freedesktop.DBus.Error.ServiceUnknown' || err.type === 'org.freedesktop.DBus.Error.NameHasNoOwner') {
          throw new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, `no notification daemon on the session bus (${NOTIFICATIONS.name} is not provided)`, { cause: err });
        }
        if (err.type.startsWith('org.freedesktop.DBus.Error.Spawn.')) {
          // D-Bus activation found a daemon but could not start it (e.g. dunst without a display).
          throw new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, `the notification daemon could not be started: ${err.type}: ${err.text}`, { cause: err });
        }
        throw new LatchError(ErrorCode.NOTIFY_FAILED, `${message.member ?? 'call'} failed: ${err.type}: ${err.text}`, { cause: err });
      }
      throw new LatchError(ErrorCode.NOTIFY_FAILED, `${message.member ?? 'call'} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  #lost(bus: dbus.MessageBus): void {
    bus.disconnect();
    if (this.#connected !== bus) return;
    this.#connected = undefined;
    this.#bus = undefined;
    this.#daemon = undefined;
    for (const shown of [...this.#byId.values()]) this.#forget(shown, NotificationCloseReason.UNKNOWN);
  }

  #forget(shown: Shown, reason: NotificationCloseReason): void {
    this.#untrack(shown);
    shown.handle.markClosed(reason);
  }

  #untrack(shown: Shown): void {
    if (this.#byId.get(shown.id) === shown) this.#byId.delete(shown.id);
    if (this.#byKey.get(shown.handle.request.id) === shown) this.#byKey.delete(shown.handle.request.id);
  }
}
