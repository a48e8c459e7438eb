import { useState } from 'react';
import { formatDuration } from '../common/durations.ts';
import type { LatchApi } from '../common/ipc.ts';
import { describeError } from './errors.ts';
import { ErrorAlert } from './ErrorAlert.tsx';
import type { ShownError } from './errors.ts';
import type { StampedSnapshot } from './useEngine.ts';
import { useNow } from './useEngine.ts';

export function SessionPanel({ latch, current }: { latch: LatchApi; current: StampedSnapshot }) {
  const now = useNow();
  const [error, setError] = useState<ShownError | null>(null);
  const [renewing, setRenewing] = useState(false);
  const { snapshot, receivedAt } = current;
  const session = snapshot.session;
  if (!session) return null;
  const elapsed = Math.max(0, now - receivedAt);
  const idleLeft = Math.max(0, session.idleRemainingMs - elapsed);
  const absoluteLeft = Math.max(0, session.absoluteRemainingMs - elapsed);
  const warning = snapshot.warning;
  const canRenew = session.renewalsLeft > 0 && (warning === null || warning.canRenew);

  const renew = (): void => {
    setError(null);
    setRenewing(true);
    latch.session.renew().then(
      () => setRenewing(false),
      (err: unknown) => {
        setError(describeError(err));
        setRenewing(false);
      },
    );
  };
  const signOut = (): void => {
    setError(null);
    latch.session.signOut().catch((err: unknown) => setError(describeError(err)));
  };

  return (
    <section className="card" aria-labelledby="session-title">
      <h2 id="session-title">Session</h2>
      {warning ? (
        <div className="banner warning" role="alert">
          <strong>{warning.kind === 'idle' ? 'Idle timeout soon.' : 'Session limit soon.'}</strong>{' '}
          {warning.kind === 'idle'
            ? warning.canRenew
              ? 'Renew to stay signed in.'
              : 'No renewals are left.'
            : 'Sign in again to start a new period; your tunnels stay up.'}
        </div>
      ) : null}
      {snapshot.phase === 'offline' ? (
        <div className="banner offline" role="status">
          The proxy cannot be reached. Latch keeps trying until the session’s deadline, then signs out on its own.
        </div>
      ) : null}
      <dl className="facts">
        <div>
          <dt>User</dt>
          <dd>{session.user}</dd>
        </div>
        <div>
          <dt>Proxy</dt>
          <dd>{session.proxyUrl}</dd>
        </div>
        <div>
          <dt>Policy</dt>
          <dd>
            {session.policy.groups.length > 0 ? session.policy.groups.join(', ') : 'default'} — idle {formatDuration(session.policy.idleTimeoutMs)}, limit{' '}
            {formatDuration(session.policy.maxDurationMs)}
          </dd>
        </div>
      </dl>
      <div className="timers">
        <div className={`timer${warning?.kind === 'idle' ? ' urgent' : ''}`}>
          <span className="timer-label" id="idle-label">
            Idle timeout in
          </span>
          <span className="timer-value" role="timer" aria-labelledby="idle-label">
            {formatDuration(idleLeft)}
          </span>
        </div>
        <div className={`timer${warning?.kind === 'absolute' ? ' urgent' : ''}`}>
          <span className="timer-label" id="absolute-label">
            Session limit in
          </span>
          <span className="timer-value" role="timer" aria-labelledby="absolute-label">
            {formatDuration(absoluteLeft)}
          </span>
        </div>
      </div>
      <p className="muted">
        {session.renewalsLeft === 1 ? '1 renewal left' : `${session.renewalsLeft} renewals left`}. Renewing restarts the idle timeout; it never extends the session limit.
      </p>
      <ErrorAlert error={error} />
      <div className="actions">
        <button type="button" className="primary" onClick={renew} disabled={!canRenew || renewing} aria-busy={renewing}>
          Renew
        </button>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </div>
    </section>
  );
}
