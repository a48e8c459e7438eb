import { ErrorCode, LatchError } from '../../../common/errors.ts';
import { IdleSourceKind, type IdleSource } from '../../core/idle/IdleSource.ts';
import { NoneIdleSource } from '../../core/idle/NoneIdleSource.ts';
import { SuspendAwareIdleSource } from '../../core/idle/SuspendAwareIdleSource.ts';
import { dbusCall, findDbusTool, hasSessionBus, parseDbusBool, type DbusTool } from './dbusCli.ts';
import { LoopedCommands } from './CommandLoop.ts';
import { findExecutable } from './findExecutable.ts';
import { MacIdleSource } from './MacIdleSource.ts';
import { MUTTER_IDLE_MONITOR, MutterIdleSource } from './MutterIdleSource.ts';
import { ScreenSaverLockProbe } from './ScreenSaverLockProbe.ts';
import { WindowsIdleSource } from './WindowsIdleSource.ts';
import { X11IdleSource } from './X11IdleSource.ts';

export interface IdleEnvironment {
  platform: NodeJS.Platform;
  /** The variables the helpers run with (DISPLAY, DBUS_SESSION_BUS_ADDRESS, PATH, ...). */
  vars: NodeJS.ProcessEnv;
  /** Bound on each helper run. */
  timeoutMs?: number;
}

export function currentIdleEnvironment(): IdleEnvironment {
  return { platform: process.platform, vars: process.env };
}

const unavailable = (message: string) => new LatchError(ErrorCode.IDLE_UNAVAILABLE, message);

/**
 * Builds the idle source for `--idle KIND`. `auto` picks by platform: Windows → windows,
 * macOS → macos, Linux → Mutter's IdleMonitor when GNOME owns it on the session bus (right under
 * Wayland), else X11 via xprintidle; a Wayland session without Mutter is refused rather than
 * measured wrongly. Any other failure names what is missing (variable, binary and its Debian
 * package, bus service) and suggests `--idle none`. OS sources come wrapped in
 * SuspendAwareIdleSource, so time asleep counts as idle; `none` returns the NoneIdleSource itself
 * (for markActive()).
 */
export async function createIdleSource(kind: IdleSourceKind, environment: IdleEnvironment = currentIdleEnvironment()): Promise<IdleSource> {
  const source = await createOsIdleSource(kind, environment);
  // The OS counters stop while the machine sleeps; `none` already counts wall-clock time.
  return source instanceof NoneIdleSource ? source : new SuspendAwareIdleSource(source);
}

async function createOsIdleSource(kind: IdleSourceKind, environment: IdleEnvironment): Promise<IdleSource> {
  const { platform, vars } = environment;
  const timeoutMs = environment.timeoutMs ?? 2_000;
  switch (kind) {
    case IdleSourceKind.NONE:
      return new NoneIdleSource();
    case IdleSourceKind.MACOS:
      if (platform !== 'darwin') throw unavailable(`idle source macos runs only on macOS (this is ${platform})`);
      return new MacIdleSource({ env: vars, timeoutMs });
    case IdleSourceKind.WINDOWS:
      if (platform !== 'win32') throw unavailable(`idle source windows runs only on Windows (this is ${platform})`);
      return new WindowsIdleSource({ env: vars, timeoutMs });
    case IdleSourceKind.X11:
      return createX11(vars, timeoutMs);
    case IdleSourceKind.MUTTER: {
      const tool = requireDbusTool(vars, 'mutter');
      if (!(await mutterPresent(tool, vars, timeoutMs))) {
        throw unavailable(`idle source mutter needs GNOME Shell: ${MUTTER_IDLE_MONITOR.dest} is not on the session bus`);
      }
      return createMutter(tool, vars, timeoutMs);
    }
    case IdleSourceKind.AUTO: {
      if (platform === 'win32') return createOsIdleSource(IdleSourceKind.WINDOWS, environment);
      if (platform === 'darwin') return createOsIdleSource(IdleSourceKind.MACOS, environment);
      const tool = findDbusTool(vars);
      // An unreachable bus only rules Mutter out here; X11 may still work.
      const mutter = tool && hasSessionBus(vars) ? await mutterPresent(tool, vars, timeoutMs).catch(() => false) : false;
      if (tool && mutter) return createMutter(tool, vars, timeoutMs);
      if (vars.WAYLAND_DISPLAY) {
        throw unavailable(
          `no idle source for this Wayland session: ${MUTTER_IDLE_MONITOR.dest} (GNOME) is not on the session bus, and the X server under Wayland does not see Wayland input. Use --idle none (explicit renew only).`,
        );
      }
      return createX11(vars, timeoutMs);
    }
    default: {
      const never: never = kind;
      throw new LatchError(ErrorCode.USAGE, `unknown idle source ${String(never)}`);
    }
  }
}

function createX11(vars: NodeJS.ProcessEnv, timeoutMs: number): IdleSource {
  if (!vars.DISPLAY) throw unavailable('idle source x11 needs an X display: DISPLAY is not set (use --idle none for explicit renew only)');
  const xprintidle = findExecutable('xprintidle', vars);
  if (!xprintidle) throw unavailable('idle source x11 needs the xprintidle program (Debian/Ubuntu package: xprintidle)');
  // Lock state is optional for X11: without a session bus or a screensaver, read as unlocked.
  const tool = hasSessionBus(vars) ? findDbusTool(vars) : undefined;
  // Asked every second: the helpers run in long-lived shells, not forked from this process each time.
  const commands = new LoopedCommands();
  const lockProbe = tool ? new ScreenSaverLockProbe({ tool, env: vars, timeoutMs, run: commands.run }) : null;
  return new X11IdleSource({ env: vars, xprintidle, timeoutMs, lockProbe, commands });
}

function createMutter(tool: DbusTool, vars: NodeJS.ProcessEnv, timeoutMs: number): IdleSource {
  const commands = new LoopedCommands();
  return new MutterIdleSource({ tool, env: vars, timeoutMs, lockProbe: new ScreenSaverLockProbe({ tool, env: vars, timeoutMs, run: commands.run }), commands });
}

function requireDbusTool(vars: NodeJS.ProcessEnv, kind: string): DbusTool {
  if (!hasSessionBus(vars)) throw unavailable(`idle source ${kind} needs the session bus: DBUS_SESSION_BUS_ADDRESS is not set and XDG_RUNTIME_DIR/bus does not exist`);
  const tool = findDbusTool(vars);
  if (!tool) throw unavailable(`idle source ${kind} needs gdbus (Debian/Ubuntu package: libglib2.0-bin) or dbus-send (package: dbus)`);
  return tool;
}

async function mutterPresent(tool: DbusTool, vars: NodeJS.ProcessEnv, timeoutMs: number): Promise<boolean> {
  const res = await dbusCall(
    tool,
    { dest: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', method: 'org.freedesktop.DBus.NameHasOwner', args: [MUTTER_IDLE_MONITOR.dest] },
    vars,
    timeoutMs,
  );
  if (!res.ok) throw unavailable(`could not reach the session bus to look for ${MUTTER_IDLE_MONITOR.dest}: ${res.detail}`);
  return parseDbusBool(res.stdout) === true;
}
