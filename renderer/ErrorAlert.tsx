import type { ShownError } from './errors.ts';

/** A refused action, announced at once to screen readers; nothing while there is none. */
export function ErrorAlert({ error, id }: { error: ShownError | null; id?: string }) {
  if (!error) return null;
  return (
    <p id={id} className="error" role="alert">
      {error.text}
    </p>
  );
}
