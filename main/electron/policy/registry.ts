/** The registry keys Latch reads its policy from, machine first: HKLM wins over HKCU. */
export const POLICY_KEY_PATHS = ['HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Latch', 'HKEY_CURRENT_USER\\SOFTWARE\\Policies\\Latch'] as const;
export type RegistryValues = Record<string, string | number>;

const REG_HEADER = 'Windows Registry Editor Version 5.00';

/** Text of a .reg file: regedit writes UTF-16LE with a BOM; a hand-written one may be UTF-8. */
export function decodeRegFile(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder('utf-8').decode(bytes.subarray(3));
  return new TextDecoder('utf-8').decode(bytes);
}

function unescapeRegString(text: string): string {
  return text.replace(/\\(["\\])/g, '$1');
}

/**
 * The values under each key of a `.reg` export (what `regedit /e` or `reg export` writes): REG_SZ
 * as strings, REG_DWORD as numbers. Other types (hex:…) are kept out: no policy key uses them.
 * Keys are returned with their path in upper case so HKLM/HKCU lookups need no care for case.
 */
export function parseRegExport(text: string): Map<string, RegistryValues> {
  const lines = text.replace(/\\\r?\n\s*/g, '').split(/\r?\n/);
  if (lines[0]?.trim() !== REG_HEADER) throw new Error(`not a registry export: the first line must be "${REG_HEADER}"`);
  const keys = new Map<string, RegistryValues>();
  let current: RegistryValues | null = null;
  for (const line of lines.slice(1)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith(';')) continue;
    const section = /^\[(-?)(.+)\]$/.exec(trimmed);
    if (section) {
      // [-KEY] deletes a key: it sets nothing.
      current = section[1] === '-' ? null : {};
      if (current) keys.set((section[2] ?? '').toUpperCase(), current);
      continue;
    }
    if (!current) continue;
    const value = /^"((?:[^"\\]|\\.)*)"=(.*)$/.exec(trimmed);
    if (!value) continue;
    const name = unescapeRegString(value[1] ?? '');
    const data = value[2] ?? '';
    const str = /^"((?:[^"\\]|\\.)*)"$/.exec(data);
    const dword = /^dword:([0-9a-fA-F]{1,8})$/.exec(data);
    if (str) current[name] = unescapeRegString(str[1] ?? '');
    else if (dword) current[name] = parseInt(dword[1] ?? '0', 16);
  }
  return keys;
}

/** The Latch policy values of an export, HKLM's before HKCU's. */
export function policyValuesFromExport(text: string): RegistryValues[] {
  const keys = parseRegExport(text);
  return POLICY_KEY_PATHS.map((path) => keys.get(path.toUpperCase()) ?? {});
}

/**
 * Output of `reg query <key>`: lines of `    name    REG_TYPE    data`. An absent key makes
 * reg.exe fail, which the caller treats as "no policy there".
 */
export function parseRegQuery(stdout: string): RegistryValues {
  const out: RegistryValues = {};
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^\s{2,}(.+?)\s{2,}(REG_SZ|REG_EXPAND_SZ|REG_DWORD)\s{2,}(.*)$/.exec(line) ?? /^\s{2,}(.+?)\s{2,}(REG_SZ|REG_EXPAND_SZ)()$/.exec(line);
    if (!m) continue;
    const [, name = '', type, data = ''] = m;
    out[name] = type === 'REG_DWORD' ? parseInt(data.trim(), 16) : data.trim();
  }
  return out;
}
