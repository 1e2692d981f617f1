import { ValidateBy } from 'class-validator';
import COMMON from './common-passwords.json' with { type: 'json' };

/** Shortest and longest password accepted; the length is checked before any hashing (argon2 on 1 MB is work). */
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;

const COMMON_SET = new Set(COMMON as string[]);

/**
 * Why a new password is refused, or null: too short, too long, one of the most common passwords (or one with only
 * digits or symbols added at the end, as `password123456`), or too few different characters (`aaaaaaaaaaaa`).
 */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN) {
    return `password must be at least ${PASSWORD_MIN} characters`;
  }
  if (password.length > PASSWORD_MAX) {
    return `password must be at most ${PASSWORD_MAX} characters`;
  }
  const lower = password.toLowerCase();
  const base = lower.replace(/[\d\W_]+$/u, '');
  if (COMMON_SET.has(lower) || (base !== '' && COMMON_SET.has(base))) {
    return 'password is too common: choose one that is not on lists of common passwords';
  }
  if (new Set(lower).size < 5) {
    return 'password has too few different characters';
  }
  return null;
}

/** The password policy as a DTO constraint: a 400 naming the field, with the reason. */
export function IsNewPassword(): PropertyDecorator {
  return ValidateBy({
    name: 'isNewPassword',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && passwordProblem(value) === null,
      defaultMessage: (args) =>
        typeof args?.value === 'string'
          ? (passwordProblem(args.value) ?? 'password is invalid')
          : 'password must be a string',
    },
  });
}
