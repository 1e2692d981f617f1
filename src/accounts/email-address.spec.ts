import { describe, expect, it } from 'vitest';
import { addressKey, normaliseAddress } from './email-address.js';
import { passwordProblem } from './password-policy.js';

describe('normaliseAddress', () => {
  it('lower-cases, drops +tags, and drops dots at Gmail only', () => {
    expect(normaliseAddress('A.B+x@GMail.com')).toBe('ab@gmail.com');
    expect(normaliseAddress('a.b@googlemail.com')).toBe('ab@gmail.com');
    expect(normaliseAddress('First.Last+news@Example.com')).toBe('first.last@example.com');
    expect(normaliseAddress('+only@example.com')).toBe('+only@example.com');
    expect(addressKey('a.b+x@gmail.com')).toBe(addressKey('ab@gmail.com'));
    expect(addressKey('a.b@example.com')).not.toBe(addressKey('ab@example.com'));
  });
});

describe('passwordProblem', () => {
  it('asks for 12 to 256 characters, not common, not one repeated character', () => {
    expect(passwordProblem('short')).toMatch(/at least 12/);
    expect(passwordProblem('x'.repeat(257))).toMatch(/at most 256/);
    expect(passwordProblem('qwertyuiopasdfgh')).toBeNull();
    expect(passwordProblem('1qaz2wsx3edc')).toMatch(/common/);
    expect(passwordProblem('Password123456')).toMatch(/common/);
    expect(passwordProblem('aaaaaaaaaaaaaaa')).toMatch(/different characters/);
    expect(passwordProblem('a-long-passphrase')).toBeNull();
  });
});
