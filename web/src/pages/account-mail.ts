import { currentSession, request, setSession, type Session } from '../api.js';
import { field, h, notice } from '../dom.js';

/**
 * The pages a mail's link opens (`/verify?token=…`, `/reset-password?token=…`), the forgot-password form, and
 * the banner of an unverified account. The token is taken out of the address bar at once, so it stays out of the
 * history.
 */

function takeToken(): string | null {
  const token = new URLSearchParams(location.search).get('token');
  if (token !== null) {
    history.replaceState(null, '', location.pathname);
  }
  return token;
}

function card(title: string, ...children: (HTMLElement | string | null)[]): HTMLElement {
  return h(
    'section',
    { class: 'auth' },
    h('div', { class: 'card auth-card' }, h('h1', null, title), ...children),
  );
}

/** `/verify?token=…`: verifies the address (no log-in needed: the link may be opened on another device). */
export function verifyPage(root: HTMLElement): () => void {
  const token = takeToken();
  const status = h('p', { class: 'muted', role: 'status' }, 'Verifying your address…');
  root.append(card('Verify your email', status));
  if (!token) {
    status.replaceWith(
      notice('This link has no token. Open the link of the verification mail again.', 'warn'),
    );
    return () => undefined;
  }
  request<{ credits_granted: boolean }>('POST', '/auth/verify', { token }).then(
    (result) => {
      const session = currentSession();
      if (session) {
        setSession({ ...session, account: { ...session.account, email_verified: true } });
      }
      status.replaceWith(
        h(
          'div',
          { class: 'stack' },
          notice(
            result.credits_granted
              ? 'Your address is verified: live keys work now, and the Free plan’s 500 credits are yours.'
              : 'Your address is verified: live keys work now.',
          ),
          h(
            'a',
            { href: session ? '/' : '/login', class: 'button primary' },
            session ? 'Go to the overview' : 'Log in',
          ),
        ),
      );
    },
    (error: Error) => {
      status.replaceWith(
        h(
          'div',
          { class: 'stack' },
          notice(error.message, 'warn'),
          h('p', { class: 'muted' }, 'Log in to ask for a new verification mail.'),
          h('a', { href: '/login', class: 'button secondary' }, 'Log in'),
        ),
      );
    },
  );
  return () => undefined;
}

/** `/forgot-password`: asks for a reset link (the answer is the same whether or not the address has an account). */
export function forgotPage(root: HTMLElement): () => void {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const message = h('div', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, 'Send the reset link');
  const form = h('form', { class: 'stack', novalidate: true }, field('Email', email), message, submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    if (!email.value) {
      message.textContent = 'Enter the email address of your account.';
      return;
    }
    submit.disabled = true;
    request<{ message: string }>('POST', '/auth/password/forgot', { email: email.value }).then(
      (answer) => form.replaceWith(notice(answer.message)),
      (error: Error) => {
        message.textContent = error.message;
        submit.disabled = false;
      },
    );
  });
  root.append(
    card(
      'Reset your password',
      h('p', { class: 'muted' }, 'Enter your email: we send a link to choose a new password.'),
      form,
      h('p', { class: 'muted center' }, h('a', { href: '/login' }, 'Back to log in')),
    ),
  );
  email.focus();
  return () => undefined;
}

/** A new password's field, with the rule under it. */
export function newPasswordField(label = 'New password'): { input: HTMLInputElement; field: HTMLElement } {
  const input = h('input', {
    type: 'password',
    name: 'new-password',
    autocomplete: 'new-password',
    minlength: 12,
    maxlength: 256,
    required: true,
  });
  return { input, field: field(label, input, 'At least 12 characters, not a common password.') };
}

/** `/reset-password?token=…`: a new password; every session of the account ends. */
export function resetPage(root: HTMLElement): () => void {
  const token = takeToken();
  if (!token) {
    root.append(
      card(
        'Reset your password',
        notice(
          'This link has no token. Open the link of the reset mail again, or ask for a new one.',
          'warn',
        ),
        h('a', { href: '/forgot-password', class: 'button secondary' }, 'Ask for a new link'),
      ),
    );
    return () => undefined;
  }
  const password = newPasswordField();
  const message = h('div', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, 'Set the new password');
  const form = h('form', { class: 'stack', novalidate: true }, password.field, message, submit);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    submit.disabled = true;
    request('POST', '/auth/password/reset', { token, password: password.input.value }).then(
      () => {
        setSession(null);
        form.replaceWith(
          h(
            'div',
            { class: 'stack' },
            notice('Your password is changed, and every session of the account has ended. Log in again.'),
            h('a', { href: '/login', class: 'button primary' }, 'Log in'),
          ),
        );
      },
      (error: Error & { code?: string | null }) => {
        message.textContent = error.message;
        submit.disabled = false;
      },
    );
  });
  root.append(card('Choose a new password', form));
  password.input.focus();
  return () => undefined;
}

/** The banner over every private page while the address is not verified, with a button to resend the mail. */
export function verifyBanner(session: Session): HTMLElement | null {
  if (session.account.email_verified !== false) {
    return null;
  }
  const resend = h('button', { type: 'button', class: 'secondary small' }, 'Resend the mail');
  const said = h('span', { class: 'muted small', role: 'status' });
  resend.addEventListener('click', () => {
    resend.disabled = true;
    request('POST', '/auth/verify/resend').then(
      () => (said.textContent = `Sent to ${session.account.email}.`),
      (error: Error) => {
        said.textContent = error.message;
        resend.disabled = false;
      },
    );
  });
  return h(
    'div',
    { class: 'notice warn verify-banner' },
    h(
      'span',
      null,
      `Verify ${session.account.email}: open the link we mailed you. Live keys work once it is verified.`,
    ),
    resend,
    said,
  );
}
