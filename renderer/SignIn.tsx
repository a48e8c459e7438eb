import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import type { SerializedError } from '../common/errors.ts';
import type { SignInRequest } from '../common/engineState.ts';
import type { LatchApi, ManagedProxyView } from '../common/ipc.ts';
import { describeError } from './errors.ts';
import { ErrorAlert } from './ErrorAlert.tsx';
import type { ShownError } from './errors.ts';
import { useFocusOnMount } from './useFocusOnMount.ts';

type Method = 'link' | 'password';

export function SignIn(props: { latch: LatchApi; busy: boolean; initialLink: string; lastError: SerializedError | null; lastUser: string }) {
  const { latch, busy, initialLink } = props;
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const [method, setMethod] = useState<Method>('link');
  const [link, setLink] = useState(initialLink);
  const [proxyUrl, setProxyUrl] = useState('');
  const [caFingerprint, setCaFingerprint] = useState('');
  const [user, setUser] = useState(props.lastUser);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ShownError | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [managed, setManaged] = useState<ManagedProxyView | null>(null);

  // The administrator's proxy (SettingsView.managedProxy): pre-filled, and fixed when locked.
  useEffect(() => {
    const show = (view: { managedProxy: ManagedProxyView | null }): void => {
      const preset = view.managedProxy;
      setManaged(preset);
      if (!preset) return;
      // Locked values replace whatever is there; unlocked ones fill only an empty field.
      const { proxyUrl: presetUrl, caFingerprint: presetFp } = preset;
      if (presetUrl !== null) setProxyUrl((typed) => (preset.locked || typed === '' ? presetUrl : typed));
      if (presetFp !== null) setCaFingerprint((typed) => (preset.locked || typed === '' ? presetFp : typed));
    };
    const off = latch.on('settings:changed', show);
    // Without the view the form still works: main enforces the policy at sign-in either way.
    latch.settings.get().then(show, () => undefined);
    return off;
  }, [latch]);

  useEffect(() => {
    if (initialLink) {
      setLink(initialLink);
      setMethod('link');
    }
  }, [initialLink]);

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const request: SignInRequest =
      method === 'link' ? { kind: 'link', link: link.trim() } : { kind: 'password', proxyUrl: proxyUrl.trim(), caFingerprint: caFingerprint.trim(), user: user.trim(), password };
    setError(null);
    setSubmitting(true);
    latch.session.signIn(request).then(
      () => {
        setPassword('');
        setSubmitting(false);
      },
      (err: unknown) => {
        setError(describeError(err));
        setSubmitting(false);
      },
    );
  };

  const working = busy || submitting;
  const urlLocked = managed !== null && managed.locked && managed.proxyUrl !== null;
  const fpLocked = managed !== null && managed.locked && managed.caFingerprint !== null;
  // A refusal from this form, else the engine's last one (e.g. the keychain was unusable at start).
  const shown = error ?? (props.lastError ? describeError(props.lastError) : null);
  return (
    <section className="card" aria-labelledby="signin-title">
      <h2 id="signin-title" tabIndex={-1} ref={heading}>
        Sign in
      </h2>
      <form onSubmit={submit} aria-describedby={shown ? 'signin-error' : undefined}>
        <fieldset className="method">
          <legend>How do you sign in?</legend>
          <label>
            <input type="radio" name="method" value="link" checked={method === 'link'} onChange={() => setMethod('link')} /> Enrollment link
          </label>
          <label>
            <input type="radio" name="method" value="password" checked={method === 'password'} onChange={() => setMethod('password')} /> User and password
          </label>
        </fieldset>
        {method === 'link' ? (
          <div className="field">
            <label htmlFor="link">Enrollment link</label>
            <input id="link" type="text" inputMode="url" autoComplete="off" spellCheck={false} required placeholder="latch://enroll?proxy=…" value={link} onChange={(e) => setLink(e.target.value)} aria-describedby="link-help" />
            <p id="link-help" className="help">
              The one-time link from your administrator. It pins the proxy’s certificate.
              {urlLocked ? ` Your administrator allows only links to ${managed.proxyUrl ?? ''}.` : ''}
            </p>
          </div>
        ) : (
          <>
            {/* readOnly, not disabled: a screen reader still reads a locked value, and it is submitted. */}
            <div className="field">
              <label htmlFor="proxy-url">Proxy URL</label>
              <input
                id="proxy-url"
                type="url"
                autoComplete="url"
                required
                placeholder="https://proxy.example.com:8443"
                value={proxyUrl}
                readOnly={urlLocked}
                aria-describedby={urlLocked ? 'managed-proxy-note' : undefined}
                onChange={(e) => setProxyUrl(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="ca-fingerprint">CA fingerprint</label>
              <input
                id="ca-fingerprint"
                type="text"
                autoComplete="off"
                spellCheck={false}
                required
                placeholder="sha256:…"
                value={caFingerprint}
                readOnly={fpLocked}
                aria-describedby={fpLocked ? 'managed-proxy-note' : undefined}
                onChange={(e) => setCaFingerprint(e.target.value)}
              />
            </div>
            {urlLocked ? (
              <p id="managed-proxy-note" className="managed-note">
                Set by your administrator
              </p>
            ) : null}
            <div className="field">
              <label htmlFor="user">User</label>
              <input id="user" type="text" autoComplete="username" required value={user} onChange={(e) => setUser(e.target.value)} />
            </div>
            <div className="field">
              <label htmlFor="password">Password</label>
              <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
            </div>
          </>
        )}
        <ErrorAlert error={shown} id="signin-error" />
        <button type="submit" className="primary" disabled={working} aria-busy={working}>
          {working ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
