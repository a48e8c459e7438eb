import { useEffect, useRef } from 'react';

/** Moves keyboard focus to a screen's heading when the screen appears (screen readers announce it). */
export function useFocusOnMount<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => ref.current?.focus(), []);
  return ref;
}
