import { parseArgs } from 'node:util';
import { formatDuration } from '../../../common/durations.ts';
import { ErrorCode, LatchError } from '../../../common/errors.ts';
import { normalizeFingerprint, normalizeProxyUrl, parseEnrollmentLink, validateCode } from '../../core/Enrollment.ts';
import { ProxyClient } from '../../core/ProxyClient.ts';
import type { LoginCredentials } from '../../core/ProxyClient.ts';
import type { CliContext } from '../CliContext.ts';
import { formatClock, line } from '../CliContext.ts';
import { ExitCode } from '../exitCodes.ts';
import { readPassword } from '../readPassword.ts';

export const LOGIN_USAGE = 'latch login (LINK | --proxy URL --ca-fingerprint FP (--code CODE | --user NAME)) [--json]';

/**
 * `latch login`: from an enrollment link, or from a proxy URL and CA fingerprint with either a
 * one-time code or a user whose password is the first line of stdin. While the same user is
 * signed in to the same proxy it re-authenticates in place: the same session gets a new key and
 * certificate and a fresh absolute period, and a running `latch connect` keeps its tunnels and
 * open connections.
 */
export async function login(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      proxy: { type: 'string' },
      'ca-fingerprint': { type: 'string' },
      code: { type: 'string' },
      user: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  let proxyUrl: string;
  let caFingerprint: string;
  let credentials: LoginCredentials;
  if (positionals.length > 1) throw new LatchError(ErrorCode.USAGE, 'give one enrollment link');
  const link = positionals[0];
  if (link !== undefined) {
    if (values.proxy !== undefined || values['ca-fingerprint'] !== undefined || values.code !== undefined || values.user !== undefined) {
      throw new LatchError(ErrorCode.USAGE, 'an enrollment link already carries the proxy, fingerprint and code: give the link alone');
    }
    const enrollment = parseEnrollmentLink(link);
    ({ proxyUrl, caFingerprint } = enrollment);
    credentials = { method: 'enrollment', code: enrollment.code };
  } else {
    if (values.proxy === undefined || values['ca-fingerprint'] === undefined) {
      throw new LatchError(ErrorCode.USAGE, 'give an enrollment link, or --proxy and --ca-fingerprint');
    }
    proxyUrl = normalizeProxyUrl(values.proxy);
    caFingerprint = normalizeFingerprint(values['ca-fingerprint']);
    if ((values.code === undefined) === (values.user === undefined)) {
      throw new LatchError(ErrorCode.USAGE, 'give either --code CODE or --user NAME');
    }
    if (values.code !== undefined) {
      credentials = { method: 'enrollment', code: validateCode(values.code) };
    } else {
      const user = values.user ?? '';
      if (user.trim() === '') throw new LatchError(ErrorCode.USAGE, '--user needs a name');
      // The keychain is checked before the password is asked for: no point typing it otherwise.
      await ctx.store.assertAvailable();
      const password = await readPassword(ctx.stdin, ctx.stderr, `Password for ${user}: `);
      credentials = { method: 'password', user, password };
    }
  }
  const client = new ProxyClient({ proxyUrl, caFingerprint, store: ctx.store, profiles: ctx.profiles, now: ctx.now });
  const { profile, reauthenticated } = await client.signIn(credentials);
  const session = profile.session;
  if (session === undefined) throw new LatchError(ErrorCode.INTERNAL, 'sign-in returned no session');
  const expiresInMs = Math.max(0, session.expiresAt - ctx.now());
  if (values.json) {
    line(
      ctx.stdout,
      JSON.stringify({ event: 'signed-in', user: session.user, proxy: profile.proxyUrl, sessionId: session.id, expiresInMs, resources: session.resources, reauthenticated }),
    );
    return ExitCode.OK;
  }
  line(ctx.stdout, reauthenticated ? `Signed in again to ${profile.proxyUrl} as ${session.user}: the same session continues, tunnels stay up` : `Signed in to ${profile.proxyUrl} as ${session.user}`);
  line(ctx.stdout, `Session ${session.id} expires in ${formatDuration(expiresInMs)} (${formatClock(session.expiresAt)})`);
  if (session.resources.length === 0) {
    line(ctx.stdout, 'No resources are available to this user.');
  } else {
    line(ctx.stdout, 'Resources:');
    const width = Math.max(...session.resources.map((r) => r.id.length));
    for (const r of session.resources) line(ctx.stdout, `  ${r.id.padEnd(width)}  ${r.group}`);
    line(ctx.stdout, `Connect with: latch connect ${session.resources[0]?.id ?? 'RESOURCE'}`);
  }
  return ExitCode.OK;
}
