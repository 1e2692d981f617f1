import { request, setSession, type Session } from '../api.js';
import { field, h } from '../dom.js';
import { navigate } from '../router.js';

/** Log in and sign up share one form: Email, Password, and the action. */
export function authPage(root: HTMLElement, mode: 'login' | 'signup', next: string, reason?: string): void {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const password = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: mode === 'login' ? 'current-password' : 'new-password',
    minlength: mode === 'signup' ? 12 : 1,
    required: true,
  });
  const message = h('div', { class: 'form-error', role: 'alert' });
  const action = mode === 'login' ? 'Log in' : 'Sign up';
  const submit = h('button', { type: 'submit', class: 'primary wide' }, action);
  const form = h(
    'form',
    { class: 'stack', novalidate: true },
    field('Email', email),
    field(
      'Password',
      password,
      mode === 'signup' ? 'At least 12 characters, not a common password.' : undefined,
    ),
    mode === 'login' ? h('a', { href: '/forgot-password', class: 'small' }, 'Forgot your password?') : null,
    message,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    if (!email.value || !password.value) {
      message.textContent = 'Enter your email and password.';
      return;
    }
    submit.disabled = true;
    submit.textContent = mode === 'login' ? 'Logging in…' : 'Creating your account…';
    request<Session>('POST', mode === 'login' ? '/auth/login' : '/auth/signup', {
      email: email.value,
      password: password.value,
    }).then(
      (session) => {
        setSession(session);
        navigate(next, true);
      },
      (error: Error) => {
        message.textContent = error.message;
        submit.disabled = false;
        submit.textContent = action;
      },
    );
  });
  root.append(
    h(
      'section',
      { class: 'auth' },
      h(
        'div',
        { class: 'card auth-card' },
        h('h1', null, mode === 'login' ? 'Log in to Conflux' : 'Create your account'),
        h(
          'p',
          { class: 'muted' },
          mode === 'login'
            ? 'One API key for 16 models from OpenAI, Anthropic, Google, Cerebras and Groq.'
            : '500 free credits every month. No card required.',
        ),
        reason ? h('p', { class: 'notice info', role: 'status' }, reason) : null,
        form,
        h(
          'p',
          { class: 'muted center' },
          mode === 'login'
            ? [
                'New here? ',
                h(
                  'a',
                  { href: `/signup${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}` },
                  'Create an account',
                ),
              ]
            : ['Already have an account? ', h('a', { href: '/login' }, 'Log in')],
        ),
      ),
    ),
  );
  email.focus();
}
