// The configuration of the private desktop daemons, shared by scripts/desktop-env.mjs (plain JS:
// it runs before dependencies are installed) and the test helpers under test/support.
import { join } from 'node:path';

/**
 * A session bus config without service directories: on a private bus nothing is D-Bus-activated
 * (a call to an absent dunst or keyring must fail, not start one nobody will stop).
 * @param {string} listen the <listen> address, e.g. `unix:dir=/tmp/x`
 */
export function privateBusConfig(listen) {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>${listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

// Notifications stay until acted on (timeout = 0 for every urgency), so a test can observe and
// invoke them. dmenu is /bin/false: with two or more actions `dunstctl action` would open it.
export const DUNSTRC = `[global]
    font = Monospace 9
    dmenu = /bin/false
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
`;

/**
 * The XDG variables of a private home, so nothing reads or writes the real user's.
 * @param {string} home
 * @param {string} runtime XDG_RUNTIME_DIR (mode 0700)
 */
export function privateHomeEnv(home, runtime) {
  return {
    HOME: home,
    XDG_RUNTIME_DIR: runtime,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CACHE_HOME: join(home, '.cache'),
  };
}
