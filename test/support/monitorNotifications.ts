import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopper } from './startXvfb.ts';

export interface ObservedNotify {
  /** Wall-clock ms when dbus-monitor saw the call. */
  at: number;
  appName: string;
  replacesId: number;
  summary: string;
  body: string;
  /** Flat [key, label, key, label, ...] as sent. */
  actions: string[];
  urgency: number | undefined;
}

export interface ObservedSignal {
  at: number;
  member: 'ActionInvoked' | 'NotificationClosed';
  id: number;
  /** Action key (ActionInvoked) or reason code (NotificationClosed). */
  detail: string | number;
}

export interface NotificationMonitor {
  notifies: ObservedNotify[];
  signals: ObservedSignal[];
  /** Resolves with the first Notify call (seen so far or later) that matches; rejects after timeoutMs. */
  waitForNotify(match: (n: ObservedNotify) => boolean, timeoutMs: number): Promise<ObservedNotify>;
  waitForSignal(match: (s: ObservedSignal) => boolean, timeoutMs: number): Promise<ObservedSignal>;
  stop(): Promise<void>;
}

/**
 * Watches org.freedesktop.Notifications traffic on the bus at ADDRESS with dbus-monitor (which
 * becomes a bus monitor, so it also sees the signals a daemon sends to one client only).
 * Resolves once the monitor is in place. Single-line strings only: dbus-monitor prints string
 * contents unescaped, so a multi-line body is cut at its first line.
 */
export async function monitorNotifications(address: string, timeoutMs = 5_000): Promise<NotificationMonitor> {
  const child = spawn('dbus-monitor', ['--address', address, "interface='org.freedesktop.Notifications'"], { stdio: ['ignore', 'pipe', 'ignore'] });
  const stop = stopper(child);
  const notifies: ObservedNotify[] = [];
  const signals: ObservedSignal[] = [];
  const listeners = new Set<() => void>();
  let block: { header: string; lines: string[]; at: number } | undefined;
  let ready: (() => void) | undefined;

  const flush = () => {
    if (!block) return;
    const { header, lines, at } = block;
    block = undefined;
    const member = /member=(\w+)/.exec(header)?.[1];
    if (!/interface=org\.freedesktop\.Notifications;/.test(header)) return;
    const top = lines.filter((l) => /^ {3}\S/.test(l)).map((l) => l.trim());
    const str = (l: string | undefined) => /^string "(.*)"$/.exec(l ?? '')?.[1] ?? '';
    const num = (l: string | undefined) => Number(/^(?:u?int32|uint64) (\d+)$/.exec(l ?? '')?.[1] ?? NaN);
    if (header.startsWith('method call') && member === 'Notify') {
      const actionsStart = lines.findIndex((l) => /^ {3}array \[/.test(l));
      const actionLines: string[] = [];
      for (let i = actionsStart + 1; actionsStart >= 0 && i < lines.length && !/^ {3}\]/.test(lines[i] ?? ''); i++) actionLines.push((lines[i] ?? '').trim());
      const urgency = /"urgency"\s*\n?\s*variant\s+byte (\d+)/.exec(lines.join('\n'))?.[1];
      notifies.push({ at, appName: str(top[0]), replacesId: num(top[1]), summary: str(top[3]), body: str(top[4]), actions: actionLines.map(str), urgency: urgency === undefined ? undefined : Number(urgency) });
    } else if (header.startsWith('signal') && (member === 'ActionInvoked' || member === 'NotificationClosed')) {
      signals.push({ at, member, id: num(top[0]), detail: member === 'ActionInvoked' ? str(top[1]) : num(top[1]) });
    } else {
      return;
    }
    for (const listener of listeners) listener();
  };

  // Top-level arguments per member: a block is parsed as soon as its last one is printed (else
  // at the next header), so a lone signal is seen without waiting for more traffic.
  const ARGS: Record<string, number> = { Notify: 8, ActionInvoked: 2, NotificationClosed: 2 };
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (/^\S/.test(line)) {
      flush();
      block = { header: line, lines: [], at: Date.now() };
      if (line.startsWith('signal') && / member=NameLost/.test(line)) ready?.();
    } else if (block) {
      block.lines.push(line);
      const expected = ARGS[/member=(\w+)/.exec(block.header)?.[1] ?? ''];
      if (expected !== undefined && block.lines.filter((l) => /^ {3}[^\s\]]/.test(l)).length >= expected) flush();
    }
  });

  const waitFor = <T>(list: T[], match: (item: T) => boolean, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = list.find(match);
        if (found === undefined) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no matching ${what} within ${ms} ms (saw ${JSON.stringify(list)})`));
      }, ms);
      listeners.add(check);
      check();
    });

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dbus-monitor was not monitoring within ${timeoutMs} ms`)), timeoutMs);
      ready = () => {
        clearTimeout(timer);
        resolve();
      };
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`dbus-monitor exited with ${code}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    notifies,
    signals,
    waitForNotify: (match, ms) => waitFor(notifies, match, ms, 'Notify call'),
    waitForSignal: (match, ms) => waitFor(signals, match, ms, 'signal'),
    stop,
  };
}
