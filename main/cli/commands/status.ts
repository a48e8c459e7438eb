import { parseArgs } from 'node:util';
import { formatDuration } from '../../../common/durations.ts';
import { isLatchError } from '../../../common/errors.ts';
import { sessionAccount } from '../../core/SessionSecrets.ts';
import type { CliContext } from '../CliContext.ts';
import { formatClock, line } from '../CliContext.ts';
import { ExitCode } from '../exitCodes.ts';

export const STATUS_USAGE = 'latch status [--json]';

type Credentials = 'present' | 'missing' | 'keychain-unavailable';

/**
 * `latch status`: what this machine knows about the session. Time left comes from the profile
 * (display only: the proxy's timers decide); "signed in" also needs the credentials to be in
 * the keychain.
 */
export async function status(argv: string[], ctx: CliContext): Promise<number> {
  const { values } = parseArgs({ args: argv, allowPositionals: false, strict: true, options: { json: { type: 'boolean', default: false } } });
  const profile = await ctx.profiles.read();
  const session = profile?.session;
  let credentials: Credentials | undefined;
  let keychainError: string | undefined;
  if (session !== undefined) {
    try {
      const token = await ctx.store.get(sessionAccount(session.id, 'token'));
      credentials = token === null ? 'missing' : 'present';
    } catch (err) {
      if (!isLatchError(err)) throw err;
      credentials = 'keychain-unavailable';
      keychainError = `${err.code}: ${err.message}`;
    }
  }
  const expiresInMs = session === undefined ? undefined : Math.max(0, session.expiresAt - ctx.now());
  const signedIn = session !== undefined && credentials === 'present' && (expiresInMs ?? 0) > 0;
  if (values.json) {
    line(
      ctx.stdout,
      JSON.stringify({
        signedIn,
        proxy: profile?.proxyUrl ?? null,
        caFingerprint: profile?.caFingerprint ?? null,
        user: session?.user ?? profile?.user ?? null,
        sessionId: session?.id ?? null,
        expiresInMs: expiresInMs ?? null,
        credentials: credentials ?? null,
        resources: session?.resources ?? [],
      }),
    );
    return ExitCode.OK;
  }
  if (profile === null) {
    line(ctx.stdout, 'Not signed in (no profile yet: run `latch login`).');
    return ExitCode.OK;
  }
  if (session === undefined) {
    line(ctx.stdout, `Not signed in. Proxy: ${profile.proxyUrl}${profile.user === undefined ? '' : ` (last user ${profile.user})`}`);
    return ExitCode.OK;
  }
  line(ctx.stdout, signedIn ? `Signed in to ${profile.proxyUrl} as ${session.user}` : `Not signed in: the session of ${session.user} at ${profile.proxyUrl} is not usable`);
  line(ctx.stdout, `Session:   ${session.id}`);
  line(
    ctx.stdout,
    expiresInMs !== undefined && expiresInMs > 0
      ? `Time left: ${formatDuration(expiresInMs)} (until ${formatClock(session.expiresAt)})`
      : `Expired:   ${formatClock(session.expiresAt)}`,
  );
  const credentialText =
    credentials === 'present' ? 'in the keychain' : credentials === 'missing' ? 'missing from the keychain: sign in again' : `keychain unavailable (${keychainError ?? ''})`;
  line(ctx.stdout, `Credentials: ${credentialText}`);
  line(ctx.stdout, `Resources: ${session.resources.length === 0 ? '(none)' : session.resources.map((r) => `${r.id} (${r.group})`).join(', ')}`);
  return ExitCode.OK;
}
