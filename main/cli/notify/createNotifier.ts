import { ErrorCode, LatchError } from '../../../common/errors.ts';
import type { Notifier } from '../../core/notify/Notifier.ts';
import { FreedesktopNotifier, sessionBusAddress } from './FreedesktopNotifier.ts';
import { MacNotifier } from './MacNotifier.ts';
import { WindowsNotifier } from './WindowsNotifier.ts';

export interface NotifierEnvironment {
  platform: NodeJS.Platform;
  vars: NodeJS.ProcessEnv;
}

export function currentNotifierEnvironment(): NotifierEnvironment {
  return { platform: process.platform, vars: process.env };
}

/**
 * The desktop notifier for this platform: freedesktop notifications over the session bus on
 * Linux and other Unix desktops (with a Renew action), osascript on macOS and a PowerShell toast
 * on Windows (no buttons there: the body says how to renew). Without a session bus it throws
 * NOTIFY_UNAVAILABLE; the terminal client then warns in the terminal only, and says so.
 */
export function createNotifier(environment: NotifierEnvironment = currentNotifierEnvironment()): Notifier {
  const { platform, vars } = environment;
  if (platform === 'darwin') return new MacNotifier({ env: vars });
  if (platform === 'win32') return new WindowsNotifier({ env: vars });
  const busAddress = sessionBusAddress(vars);
  if (!busAddress) {
    throw new LatchError(ErrorCode.NOTIFY_UNAVAILABLE, 'desktop notifications need the session bus: DBUS_SESSION_BUS_ADDRESS is not set and XDG_RUNTIME_DIR/bus does not exist');
  }
  return new FreedesktopNotifier({ busAddress });
}
