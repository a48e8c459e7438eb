import type { LatchApi } from '../common/ipc.ts';
import type { StampedSnapshot } from './useEngine.ts';
import { SessionPanel } from './SessionPanel.tsx';
import { Resources } from './Resources.tsx';
import { Settings } from './Settings.tsx';
import { useFocusOnMount } from './useFocusOnMount.ts';

export function SessionScreen({ latch, current }: { latch: LatchApi; current: StampedSnapshot }) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const session = current.snapshot.session;
  return (
    <>
      <h2 className="visually-hidden" tabIndex={-1} ref={heading}>
        {session ? `Signed in as ${session.user}` : 'Signed in'}
      </h2>
      <SessionPanel latch={latch} current={current} />
      <Resources latch={latch} snapshot={current.snapshot} />
      <Settings latch={latch} />
    </>
  );
}
