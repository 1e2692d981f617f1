/** Error codes of a database (or socket) that is not there, as opposed to one that refused the statement. */
const CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  // Postgres: connection exceptions (class 08), shutting down or starting up (57P01–57P03), too many clients
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** TypeORM's names for a transaction whose connection died under it (the database went away mid-transaction). */
const NAMES = new Set([
  'QueryRunnerAlreadyReleasedError',
  'QueryRunnerProviderAlreadyReleasedError',
  'ConnectionIsNotSetError',
]);

const MESSAGES =
  /connection terminated|connection (is )?closed|timeout exceeded when trying to connect|cannot use a pool after calling end|terminating connection|the database system is (starting up|shutting down)|client has encountered a connection error|not queryable|connect (ECONNREFUSED|ETIMEDOUT)|query runner (was )?already released|connection provided by a query runner was already released/i;

/**
 * True when an error says the database could not be reached (it is down, restarting, or the network is), so the
 * work may succeed later: the request gets 503 with `retry-after`, a settlement waits in the journal.
 */
export function isUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const { code, message, name } = e as { code?: unknown; message?: unknown; name?: unknown };
    if (
      (typeof code === 'string' && CODES.has(code)) ||
      (typeof name === 'string' && NAMES.has(name)) ||
      (typeof message === 'string' && MESSAGES.test(message))
    ) {
      return true;
    }
    e = (e as { cause?: unknown; driverError?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}
