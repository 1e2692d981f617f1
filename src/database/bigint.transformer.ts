import type { ValueTransformer } from 'typeorm';

/** Postgres `bigint` ⇄ JS `bigint`: money never passes through a float. */
export const bigintTransformer: ValueTransformer = {
  to: (value: bigint | null | undefined) =>
    value === null || value === undefined ? value : value.toString(),
  from: (value: string | null) => (value === null ? null : BigInt(value)),
};
