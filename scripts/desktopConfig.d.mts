export function privateBusConfig(listen: string): string;
export const DUNSTRC: string;
export function privateHomeEnv(home: string, runtime: string): { HOME: string; XDG_RUNTIME_DIR: string; XDG_CONFIG_HOME: string; XDG_DATA_HOME: string; XDG_CACHE_HOME: string };
