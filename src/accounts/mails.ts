import { composeMail } from '../mail/compose.js';

/** The mails of the account's life. Each link carries a single-use token: never log one of these. */

export function verificationMail(publicUrl: string, token: string): ReturnType<typeof composeMail> {
  return composeMail({
    subject: 'Verify your email address',
    heading: 'Verify your email address',
    paragraphs: [
      'Thanks for signing up. Open the link below to verify this address: your live API keys work once it is ' +
        'verified (test keys work already), and the Free plan’s 500 credits are added then.',
      'The link works once, for 24 hours.',
    ],
    action: { label: 'Verify my address', url: `${publicUrl}/verify?token=${token}` },
    footer: 'If you did not sign up, ignore this mail: nothing happens without the link.',
  });
}

export function resetMail(publicUrl: string, token: string): ReturnType<typeof composeMail> {
  return composeMail({
    subject: 'Reset your password',
    heading: 'Reset your password',
    paragraphs: [
      'Someone (we hope you) asked to reset the password of the account with this address. Open the link below ' +
        'to choose a new one: every session of the account then ends.',
      'The link works once, for 1 hour.',
    ],
    action: { label: 'Choose a new password', url: `${publicUrl}/reset-password?token=${token}` },
    footer: 'If you did not ask for this, ignore this mail: your password stays as it is.',
  });
}
