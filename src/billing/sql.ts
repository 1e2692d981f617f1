/** TypeORM's postgres driver returns [rows, count] for UPDATE/DELETE … RETURNING, and rows for SELECT/INSERT. */
export function rowsOf(result: unknown): unknown[] {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[0] as unknown[];
  }
  return result as unknown[];
}
