/** `baseUrl` carries the version prefix (`https://api.anthropic.com/v1`); a trailing slash is tolerated. */
export function endpoint(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}

/**
 * How long a provider asks us to wait, in seconds, from its headers: `retry-after-ms` (OpenAI) wins over
 * `retry-after` (delta-seconds, or an HTTP date).
 */
export function retryAfterSeconds(headers: Record<string, string>): number | undefined {
  const ms = Number(headers['retry-after-ms']);
  if (headers['retry-after-ms'] !== undefined && Number.isFinite(ms) && ms >= 0) {
    return ms / 1000;
  }
  const value = headers['retry-after'];
  if (value === undefined || value.trim() === '') {
    return undefined;
  }
  const seconds = Number(value);
  if (Number.isFinite(seconds)) {
    return Math.max(0, seconds);
  }
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
