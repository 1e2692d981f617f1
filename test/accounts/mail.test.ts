import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { mailNotice } from '../../src/config/startup.js';
import { composeMail } from '../../src/mail/compose.js';
import { MailService } from '../../src/mail/mail.service.js';
import { SmtpCatcher } from '../fakes/smtp.js';

describe('mail: nodemailer to a real SMTP server (the catcher)', () => {
  const smtp = new SmtpCatcher();
  let mail: MailService;
  beforeAll(async () => {
    await smtp.start();
    mail = new MailService(loadConfig(smtp.env));
  });
  afterAll(async () => {
    mail.onApplicationShutdown();
    await smtp.close();
  });

  it('sends plain text and HTML from MAIL_FROM, with the product name and the link', async () => {
    expect(mail.enabled).toBe(true);
    const content = composeMail({
      subject: 'Hello',
      heading: 'Hello <you>',
      paragraphs: ['First paragraph.'],
      action: { label: 'Open', url: 'http://localhost:3000/verify?token=abc_DEF-1' },
    });
    await mail.send({ to: 'Someone@Example.com', ...content });
    const got = await smtp.nextMail('someone@example.com');
    expect(got.from).toBe('no-reply@conflux.test');
    expect(got.subject).toBe('Hello — Conflux Router');
    expect(got.text).toContain('http://localhost:3000/verify?token=abc_DEF-1');
    expect(got.html).toContain('Hello &#60;you&#62;');
    expect(got.html).toContain('Conflux Router');
    expect(got.html).toContain('href="http://localhost:3000/verify?token=abc_DEF-1"');
  });

  it('hands a mail that arrived before anyone waited to the next waiter', async () => {
    await mail.send({ to: 'early@example.com', subject: 's1', text: 't1', html: '<p>t1</p>' });
    await mail.send({ to: 'early@example.com', subject: 's2', text: 't2', html: '<p>t2</p>' });
    expect(smtp.pending('early@example.com')).toBe(2);
    expect((await smtp.nextMail('early@example.com')).subject).toBe('s1');
    expect((await smtp.nextMail('early@example.com')).subject).toBe('s2');
  });

  it('without SMTP_URL is disabled and sends nothing', async () => {
    const off = new MailService(loadConfig({}));
    expect(off.enabled).toBe(false);
    await off.send({ to: 'x@example.com', subject: 's', text: 't', html: 'h' });
    expect(smtp.pending('x@example.com')).toBe(0);
  });

  it('rejects a send the server refuses, without the content in the error', async () => {
    const refused = new SmtpCatcher();
    await refused.start();
    const port = Number(new URL(refused.url).port);
    await refused.close(); // nothing listens there now
    const broken = new MailService(loadConfig({ SMTP_URL: `smtp://127.0.0.1:${port}` }));
    await expect(
      broken.send({ to: 'y@example.com', subject: 's', text: 'secret-token', html: 'h' }),
    ).rejects.toThrow(/ECONNREFUSED|connect/i);
    broken.onApplicationShutdown();
  });

  it('validates the mail settings', () => {
    expect(() => loadConfig({ SMTP_URL: 'http://x' })).toThrow(/SMTP_URL must use smtp: or smtps:/);
    expect(() => loadConfig({ MAIL_FROM: 'not an address' })).toThrow(/MAIL_FROM/);
    expect(() => loadConfig({ REQUIRE_EMAIL_VERIFICATION: 'true' })).toThrow(/needs SMTP_URL/);
    expect(() => loadConfig({ REQUIRE_EMAIL_VERIFICATION: 'maybe' })).toThrow(/true or false/);
    expect(loadConfig({ SMTP_URL: 'smtp://h:25' }).mail.requireVerification).toBe(true);
    expect(
      loadConfig({ SMTP_URL: 'smtp://h:25', REQUIRE_EMAIL_VERIFICATION: 'false' }).mail.requireVerification,
    ).toBe(false);
    expect(loadConfig({}).mail.requireVerification).toBe(false);
  });

  it('says at start, without SMTP_URL, what that turns off', () => {
    expect(mailNotice(loadConfig({}))).toMatch(
      /SMTP_URL is not set.*not verified.*password reset is unavailable/,
    );
    expect(mailNotice(loadConfig({ SMTP_URL: 'smtp://h:25' }))).toBeUndefined();
  });
});
