import { Foundation1764060000000 } from './1764060000000-foundation.js';
import { Billing1764070000000 } from './1764070000000-billing.js';
import { Health1764080000000 } from './1764080000000-health.js';
import { LedgerGuard1764090000000 } from './1764090000000-ledger-guard.js';
import { CreditLeases1764100000000 } from './1764100000000-credit-leases.js';
import { StripeBilling1764110000000 } from './1764110000000-stripe-billing.js';
import { UsageRead1764120000000 } from './1764120000000-usage-read.js';

import { Admin1764130000000 } from './1764130000000-admin.js';
import { LighterSettlement1764135000000 } from './1764135000000-lighter-settlement.js';
import { Accounts1764140000000 } from './1764140000000-accounts.js';
import { UsageDaily1764160000000 } from './1764160000000-usage-daily.js';
import { KeySettings1764170000000 } from './1764170000000-key-settings.js';

/** Every migration, in order. Listed explicitly so the same list runs from sources (tests) and from dist. */
export const MIGRATIONS = [
  Foundation1764060000000,
  Billing1764070000000,
  Health1764080000000,
  LedgerGuard1764090000000,
  CreditLeases1764100000000,
  StripeBilling1764110000000,
  UsageRead1764120000000,

  Admin1764130000000,
  LighterSettlement1764135000000,
  Accounts1764140000000,
  UsageDaily1764160000000,
  KeySettings1764170000000,
];
