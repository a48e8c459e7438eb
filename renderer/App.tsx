import { useEffect, useState } from 'react';
import type { LatchApi } from '../common/ipc.ts';
import { useEngine } from './useEngine.ts';
import { SignIn } from './SignIn.tsx';
import { Ended } from './Ended.tsx';
import { SessionScreen } from './SessionScreen.tsx';

const PHASE_LABEL = {
  'signed-out': 'Signed out',
  'signing-in': 'Signing in…',
  connecting: 'Connecting…',
  active: 'Connected',
  warning: 'Session ending soon',
  offline: 'Offline: reconnecting',
  ended: 'Signed out',
} as const;

export function App({ latch }: { latch: LatchApi }) {
  const { current, loaded } = useEngine(latch);
  const { snapshot } = current;
  const [signInAgain, setSignInAgain] = useState(false);
  const [link, setLink] = useState('');

  useEffect(() => latch.on('enrollment:opened', ({ link: opened }) => {
    setLink(opened);
    setSignInAgain(true);
  }), [latch]);

  // A new session (or a new end) resets the "sign in again" choice.
  const phase = snapshot.phase;
  useEffect(() => {
    if (phase !== 'ended' && phase !== 'signed-out' && phase !== 'signing-in') setSignInAgain(false);
  }, [phase]);

  let screen;
  if (!loaded) screen = <p className="muted">Loading…</p>;
  else if (phase === 'ended' && !signInAgain && snapshot.ended) screen = <Ended ended={snapshot.ended} onSignInAgain={() => setSignInAgain(true)} />;
  else if (phase === 'ended' || phase === 'signed-out' || phase === 'signing-in') {
    screen = <SignIn latch={latch} busy={phase === 'signing-in'} initialLink={link} lastError={snapshot.lastError} lastUser={snapshot.session?.user ?? ''} />;
  } else screen = <SessionScreen latch={latch} current={current} />;

  return (
    <div className="app">
      <header className="app-header">
        <h1>Latch</h1>
        <p className={`phase phase-${phase}`} role="status" aria-live="polite">
          {PHASE_LABEL[phase]}
        </p>
      </header>
      <main>{screen}</main>
    </div>
  );
}
