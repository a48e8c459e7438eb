import type { EndedView } from '../common/engineState.ts';
import { useFocusOnMount } from './useFocusOnMount.ts';

export function Ended({ ended, onSignInAgain }: { ended: EndedView; onSignInAgain: () => void }) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  return (
    <section className="card ended" aria-labelledby="ended-title">
      <h2 id="ended-title" tabIndex={-1} ref={heading}>
        {ended.message}
      </h2>
      <p>
        {ended.local ? 'This device ended the session when its deadline passed.' : 'The proxy ended the session.'}{' '}
        Every tunnel was closed.{' '}
        {ended.wiped ? 'The session’s credentials were removed from the system keychain.' : 'Removing the session’s credentials from the system keychain…'}
      </p>
      <button type="button" className="primary" onClick={onSignInAgain}>
        Sign in again
      </button>
    </section>
  );
}
