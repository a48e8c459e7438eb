import dbus from 'dbus-next';

export interface FakeMethod {
  path: string;
  /** interface.Member, as callers name it. */
  method: string;
  /** D-Bus signature of the reply, e.g. 't' or 'b'. */
  signature: string;
  /** Reply body, read on every call (so a test can change it between calls). */
  reply: () => unknown[];
}

export interface FakeService {
  /** How many times each 'interface.Member' was called. */
  calls: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * Owns NAME on the bus at ADDRESS and answers the given methods: a stand-in for services that
 * cannot run here (GNOME Shell's Mutter IdleMonitor, a screensaver), so the real gdbus/dbus-send
 * plumbing is exercised against a real bus.
 */
export async function exportBusMethods(address: string, name: string, methods: readonly FakeMethod[]): Promise<FakeService> {
  const bus = dbus.sessionBus({ busAddress: address });
  bus.on('error', () => undefined);
  const calls = new Map<string, number>();
  bus.addMethodHandler((msg: dbus.Message): boolean => {
    const hit = methods.find((m) => m.path === msg.path && m.method === `${msg.interface}.${msg.member}`);
    if (!hit) return false;
    calls.set(hit.method, (calls.get(hit.method) ?? 0) + 1);
    bus.send(dbus.Message.newMethodReturn(msg, hit.signature, hit.reply()));
    return true;
  });
  const reply = await bus.requestName(name, dbus.NameFlag.DO_NOT_QUEUE);
  if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) {
    bus.disconnect();
    throw new Error(`could not own ${name} on ${address} (reply ${reply})`);
  }
  return {
    calls,
    stop: async () => {
      await bus.releaseName(name).catch(() => undefined);
      bus.disconnect();
    },
  };
}
