import { useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { formatDuration } from '../common/durations.ts';
import type { LatchApi, SettingsView } from '../common/ipc.ts';
import { describeError } from './errors.ts';
import { ErrorAlert } from './ErrorAlert.tsx';
import type { ShownError } from './errors.ts';

export function Settings({ latch }: { latch: LatchApi }) {
  const [view, setView] = useState<SettingsView | null>(null);
  const [leadSeconds, setLeadSeconds] = useState('');
  const [error, setError] = useState<ShownError | null>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    const show = (v: SettingsView): void => {
      setView(v);
      setLeadSeconds(String(Math.round(v.settings.warningLeadMs / 1000)));
    };
    const off = latch.on('settings:changed', show);
    latch.settings.get().then(show, (err: unknown) => setError(describeError(err)));
    return off;
  }, [latch]);

  if (!view) return null;
  const { minMs, maxMs } = view.warningLeadBounds;
  const leadLocked = view.locked.includes('warningLeadMs');
  const loginLocked = view.locked.includes('startAtLogin');

  const apply = (patch: Parameters<LatchApi['settings']['set']>[0]): void => {
    setError(null);
    setSaved(false);
    // Shown at once (a checkbox must follow the click); main's answer confirms or puts it back.
    const before = view;
    setView({ ...view, settings: { ...view.settings, ...patch } });
    latch.settings.set(patch).then(
      (v) => {
        setView(v);
        setSaved(true);
      },
      (err: unknown) => {
        setView(before);
        setError(describeError(err));
      },
    );
  };
  const saveLead = (e: FormEvent): void => {
    e.preventDefault();
    apply({ warningLeadMs: Math.round(Number(leadSeconds) * 1000) });
  };

  return (
    <section className="card" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form onSubmit={saveLead} className="inline-form">
        <div className="field">
          <label htmlFor="warning-lead">Warn me before the idle timeout (seconds)</label>
          <input
            id="warning-lead"
            type="number"
            inputMode="numeric"
            min={Math.ceil(minMs / 1000)}
            max={Math.floor(maxMs / 1000)}
            step={1}
            required
            disabled={leadLocked}
            value={leadSeconds}
            onChange={(e) => setLeadSeconds(e.target.value)}
            aria-describedby="warning-lead-help"
          />
          <p id="warning-lead-help" className="help">
            Between {formatDuration(minMs)} and {formatDuration(maxMs)} under the policy in effect.{leadLocked ? ' Set by your administrator.' : ''}
          </p>
        </div>
        <button type="submit" disabled={leadLocked}>
          Save
        </button>
      </form>
      <div className="field checkbox">
        <input id="start-at-login" type="checkbox" checked={view.settings.startAtLogin} disabled={loginLocked} onChange={(e) => apply({ startAtLogin: e.target.checked })} />
        <label htmlFor="start-at-login">Start Latch when I log in{loginLocked ? ' (set by your administrator)' : ''}</label>
      </div>
      <p className="visually-hidden" role="status" aria-live="polite">
        {saved ? 'Settings saved' : ''}
      </p>
      <ErrorAlert error={error} />
    </section>
  );
}
