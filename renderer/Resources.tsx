import { useState } from 'react';
import type { EngineSnapshot } from '../common/engineState.ts';
import type { LatchApi } from '../common/ipc.ts';
import { describeError } from './errors.ts';
import { ErrorAlert } from './ErrorAlert.tsx';
import type { ShownError } from './errors.ts';

export function Resources({ latch, snapshot }: { latch: LatchApi; snapshot: EngineSnapshot }) {
  const [error, setError] = useState<ShownError | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  const [copied, setCopied] = useState<string | null>(null);

  const run = (resourceId: string, action: () => Promise<unknown>, after?: () => void): void => {
    setError(null);
    setPending(resourceId);
    action().then(
      () => {
        setPending(null);
        after?.();
      },
      (err: unknown) => {
        setPending(null);
        setError(describeError(err));
      },
    );
  };

  return (
    <section className="card" aria-labelledby="resources-title">
      <h2 id="resources-title">Resources</h2>
      {snapshot.resources.length === 0 ? <p className="muted">No resources are available to you.</p> : null}
      <ul className="resources">
        {snapshot.resources.map((r) => {
          const tunnel = snapshot.tunnels.find((t) => t.resourceId === r.id);
          const address = tunnel ? `${tunnel.host}:${tunnel.port}` : null;
          return (
            <li key={r.id} className="resource">
              <div className="resource-name">
                <span className="name">{r.id}</span> <span className="group">{r.group}</span>
              </div>
              <div className="resource-state">
                {address ? (
                  <>
                    <code aria-label={`Local address of ${r.id}`}>{address}</code>
                    {tunnel && tunnel.connections > 0 ? <span className="muted"> · {tunnel.connections} open</span> : null}
                  </>
                ) : (
                  <span className="muted">Not connected</span>
                )}
              </div>
              <div className="actions">
                {address ? (
                  <>
                    <button type="button" aria-label={`Copy address of ${r.id}`} onClick={() => run(r.id, () => latch.clipboard.copyAddress({ resourceId: r.id }), () => setCopied(r.id))}>
                      Copy address
                    </button>
                    <button type="button" aria-label={`Disconnect ${r.id}`} disabled={pending === r.id} onClick={() => run(r.id, () => latch.tunnel.disconnect({ resourceId: r.id }))}>
                      Disconnect
                    </button>
                  </>
                ) : (
                  <button type="button" className="primary" aria-label={`Connect ${r.id}`} disabled={pending === r.id} aria-busy={pending === r.id} onClick={() => run(r.id, () => latch.tunnel.connect({ resourceId: r.id }))}>
                    Connect
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ul>
      <p className="visually-hidden" role="status" aria-live="polite">
        {copied ? `Address of ${copied} copied` : ''}
      </p>
      <ErrorAlert error={error} />
    </section>
  );
}
