/** The scheme Latch registers with the OS: `latch://enroll?proxy=…&fp=…&code=…`. */
export const PROTOCOL_SCHEME = 'latch';

/**
 * The enrollment link among command-line arguments (Windows and Linux pass a clicked link to the
 * second instance's argv; macOS uses the open-url event). Only `latch://enroll` is accepted;
 * the engine parses it strictly at sign-in.
 */
export function findEnrollmentLink(argv: readonly string[]): string | undefined {
  return argv.find(isEnrollmentLink);
}

export function isEnrollmentLink(value: string): boolean {
  if (typeof value !== 'string' || value.length > 4096) return false;
  try {
    const url = new URL(value);
    return url.protocol === `${PROTOCOL_SCHEME}:` && url.hostname === 'enroll';
  } catch {
    return false;
  }
}
