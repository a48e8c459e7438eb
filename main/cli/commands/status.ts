import { parseArgs } from 'node:util';
import { formatDuration } from '../../../common/durations.ts';
import type { SessionStateResponse } from '../../../common/api.ts';
import type { EndReason } from '../../../common/closeCodes.ts';
import { ErrorCode, isLatchError } from '../../../common/errors.ts';
import type { SerializedError } from '../../../common/errors.ts';
import { endReasonOf } from '../../core/networkError.ts';
import { isSessionGone, ProxyClient } from '../../core/ProxyClient.ts';
import { describeEnd } from '../../core/session/describeEnd.ts';
import { loadSessionSecrets, sessionAccount } from '../../core/SessionSecrets.ts';
import type { CliContext } from '../CliContext.ts';
import { formatClock, line } from '../CliContext.ts';
import { ExitCode } from '../exitCodes.ts';

export const STATUS_USAGE = 'latch status [--json]';

type Credentials = 'present' | 'missing' | 'keychain-unavailable';

/** Bound on asking the proxy: status must answer quickly even when the proxy does not. */
const LIVE_TIMEOUT_MS = 5_000;

/**
 * `latch status`: the session as the proxy's timers see it (GET /v1/session: idle and absolute
 * time left, the policy in effect — opening a production resource shortens the idle timeout —
 * renewals left), with what this machine knows (profile, keychain) when the proxy cannot be
 * reached. A proxy that says the session ended makes status wipe it here (fail closed).
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
  let live: SessionStateResponse | undefined;
  let proxyError: SerializedError | undefined;
  let ended: { reason: EndReason; message: string } | undefined;
  if (profile !== null && session !== undefined && credentials === 'present') {
    const client = new ProxyClient({ proxyUrl: profile.proxyUrl, caFingerprint: profile.caFingerprint, caPem: profile.caPem, store: ctx.store, profiles: ctx.profiles, now: ctx.now, timeoutMs: LIVE_TIMEOUT_MS });
    try {
      live = await client.sessionState(await loadSessionSecrets(ctx.store, session.id));
      await client.confirmPendingWipes();
    } catch (err) {
      if (isSessionGone(err)) {
        const reason = endReasonOf(err) ?? 'error';
        ended = { reason, message: describeEnd(reason) };
        await client.forget(profile).catch(() => 0);
        credentials = 'missing';
      } else {
        proxyError = isLatchError(err) ? err.toJSON() : { code: ErrorCode.INTERNAL, message: String(err) };
      }
    }
  }
  const expiresInMs = live !== undefined ? live.absoluteRemainingMs : session === undefined ? undefined : Math.max(0, session.expiresAt - ctx.now());
  const signedIn = session !== undefined && ended === undefined && credentials === 'present' && (expiresInMs ?? 0) > 0;
  const policy = live?.policy;
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
        online: live !== undefined,
        idleRemainingMs: live?.idleRemainingMs ?? null,
        absoluteRemainingMs: live?.absoluteRemainingMs ?? null,
        renewalsLeft: live?.renewalsLeft ?? null,
        idleTimeoutMs: policy?.idleTimeoutMs ?? null,
        maxDurationMs: policy?.maxDurationMs ?? null,
        warnBeforeMs: policy?.warnBeforeMs ?? null,
        groups: policy?.groups ?? [],
        policy: policy ?? null,
        ended: ended ?? null,
        proxyError: proxyError ?? null,
      }),
    );
    return ExitCode.OK;
  }
  if (ended !== undefined) {
    line(ctx.stdout, `${ended.message}. The session's credentials were wiped from this machine; sign in again with \`latch login\`.`);
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
  if (live !== undefined && policy !== undefined) {
    const groups = policy.groups.length === 0 ? 'default policy' : `${policy.groups.join(' + ')} policy`;
    line(
      ctx.stdout,
      `Policy:    ${groups}: idle timeout ${formatDuration(policy.idleTimeoutMs)}, maximum ${formatDuration(policy.maxDurationMs)}, warning ${formatDuration(policy.warnBeforeMs)} before, ${policy.maxRenewals} renewal${policy.maxRenewals === 1 ? '' : 's'} per sign-in`,
    );
    line(ctx.stdout, `Idle:      ends in ${formatDuration(live.idleRemainingMs)} without input (latch renew resets it); ${live.renewalsLeft} renewal${live.renewalsLeft === 1 ? '' : 's'} left`);
  } else if (proxyError !== undefined) {
    line(ctx.stdout, `Proxy:     not reachable (${proxyError.code}); the times below are this machine's view`);
  }
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
