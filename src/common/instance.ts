import { randomBytes } from 'node:crypto';

/**
 * This process among the gateway's instances: its id names its credit leases and its settlement journal, so
 * what it leaves behind when it dies can be told apart from the work of instances still running.
 */
export class Instance {
  readonly id = `inst_${randomBytes(8).toString('hex')}`;
}
