/** Types of bin/relayProcess.js (plain JavaScript: the bins start on any Node). */
export const RELAY_V8_FLAGS: readonly string[];
export function restartAsRelay(script: string, relayCommands: readonly string[]): void;
