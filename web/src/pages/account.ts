import { currentSession, request, setSession } from '../api.js';
import { field, h, notice } from '../dom.js';
import { newPasswordField, verifyBanner } from './account-mail.js';

/** `/account`: the address and its state, the password, and the sessions (log out here, or everywhere). */
export function accountPage(root: HTMLElement): () => void {
  const session = currentSession();
  if (!session) {
    return () => undefined;
  }
  const current = h('input', {
    type: 'password',
    name: 'current-password',
    autocomplete: 'current-password',
    required: true,
  });
  const next = newPasswordField();
  const message = h('div', { class: 'form-error', role: 'alert' });
  const done = h('div', { role: 'status' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Change the password');
  const form = h(
    'form',
    { class: 'stack', novalidate: true },
    field('Current password', current),
    next.field,
    message,
    done,
    h('div', null, submit),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    done.replaceChildren();
    submit.disabled = true;
    request<{ sessions_ended: number }>('POST', '/auth/password/change', {
      current_password: current.value,
      password: next.input.value,
    }).then(
      (result) => {
        current.value = '';
        next.input.value = '';
        submit.disabled = false;
        const others = result.sessions_ended;
        done.append(
          notice(
            `Password changed. ${others === 1 ? '1 other session was' : `${others} other sessions were`} ended; ` +
              'this one goes on.',
          ),
        );
      },
      (error: Error) => {
        message.textContent = error.message;
        submit.disabled = false;
      },
    );
  });

  const sessionError = h('div', { class: 'form-error', role: 'alert' });
  const logout = h('button', { type: 'button', class: 'secondary' }, 'Log out');
  const logoutAll = h('button', { type: 'button', class: 'danger' }, 'Log out everywhere');
  const end = (path: string) => {
    logout.disabled = logoutAll.disabled = true;
    request('POST', path).then(
      () => setSession(null),
      (error: Error) => {
        sessionError.textContent = error.message;
        logout.disabled = logoutAll.disabled = false;
      },
    );
  };
  logout.addEventListener('click', () => end('/auth/logout'));
  logoutAll.addEventListener('click', () => end('/auth/logout-all'));

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Account')),
    h(
      'div',
      { class: 'stack' },
      verifyBanner(session),
      h(
        'section',
        { class: 'card' },
        h('h2', null, 'Email'),
        h(
          'p',
          null,
          session.account.email,
          ' · ',
          session.account.email_verified === false ? 'not verified yet' : 'verified',
        ),
      ),
      h('section', { class: 'card' }, h('h2', null, 'Password'), form),
      h(
        'section',
        { class: 'card' },
        h('h2', null, 'Sessions'),
        h(
          'p',
          { class: 'muted' },
          'Log out ends this session. Log out everywhere ends every session of the account, on every device.',
        ),
        h('div', { class: 'row-actions' }, logout, logoutAll),
        sessionError,
      ),
    ),
  );
  return () => undefined;
}
