import { request, type CreatedKey, type Key } from '../api.js';
import { copyButton, empty, errorBox, field, fill, h, loading } from '../dom.js';
import { ago, date } from '../format.js';
import { quickStart } from './quickstart.js';
import { editKey, limits, periodUse, rotateKey } from './key-settings.js';

export function keysPage(root: HTMLElement): () => void {
  const list = h('div', null, loading('Loading your keys…'));
  const created = h('div', { 'aria-live': 'polite' });
  const quick = h('div');
  const name = h('input', {
    type: 'text',
    name: 'name',
    maxlength: 100,
    placeholder: 'production backend',
    required: true,
  });
  const kind = h(
    'select',
    { name: 'kind' },
    h('option', { value: 'live' }, 'Live — real, billed calls'),
    h('option', { value: 'test' }, 'Test — free mock answers'),
  );
  const expires = h('input', { type: 'date', name: 'expires' });
  const formError = h('div', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create key');
  const form = h(
    'form',
    { class: 'row-form', novalidate: true },
    field('Name', name),
    field('Kind', kind),
    field('Expires (optional)', expires),
    h('div', { class: 'field submit' }, submit),
  );
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'revoke-title' });
  let keys: Key[] = [];

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'API keys')),
    h(
      'p',
      { class: 'muted lead' },
      'Keys call the API on behalf of your account. Live keys are billed in credits; test keys get free mock answers.',
    ),
    h('section', { class: 'card' }, h('h2', null, 'Create a key'), form, formError, created),
    h('section', { class: 'card' }, h('h2', null, 'Your keys'), list),
    quick,
    dialog,
  );

  const render = () => {
    fill(quick, quickStart(keys));
    if (keys.length === 0) {
      fill(list, empty('No keys yet', 'Create your first key above to start calling the API.'));
      return;
    }
    const sorted = [...keys].sort(
      (a, b) =>
        Number(Boolean(a.revoked_at)) - Number(Boolean(b.revoked_at)) ||
        b.created_at.localeCompare(a.created_at),
    );
    fill(
      list,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'keys stacked' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['Name', 'Key', 'Kind', 'This period', 'Limits', 'Last used', 'Expires', ''].map((t) =>
                h('th', null, t),
              ),
            ),
          ),
          h(
            'tbody',
            null,
            sorted.map((key) => {
              const expired = key.expires_at !== null && new Date(key.expires_at).getTime() < Date.now();
              const row = h(
                'tr',
                { class: key.revoked_at || expired ? 'inactive' : '', 'data-key-id': key.id },
                h('td', { 'data-label': 'Name' }, h('strong', null, key.name)),
                h('td', { 'data-label': 'Key' }, h('code', null, key.display)),
                h('td', { 'data-label': 'Kind' }, h('span', { class: `pill ${key.kind}` }, key.kind)),
                h('td', { 'data-label': 'This period' }, periodUse(key)),
                h('td', { 'data-label': 'Limits' }, limits(key)),
                h('td', { 'data-label': 'Last used' }, ago(key.last_used_at)),
                h(
                  'td',
                  { 'data-label': 'Expires' },
                  key.expires_at
                    ? expired
                      ? `Expired ${date(key.expires_at)}`
                      : date(key.expires_at)
                    : 'Never',
                ),
                h(
                  'td',
                  { class: 'actions' },
                  key.revoked_at
                    ? h('span', { class: 'pill bad' }, `Revoked ${date(key.revoked_at)}`)
                    : [
                        h(
                          'button',
                          {
                            type: 'button',
                            class: 'secondary small',
                            'aria-label': `Edit ${key.name}`,
                            onclick: () => editKey(dialog, key, replace),
                          },
                          'Edit',
                        ),
                        h(
                          'button',
                          {
                            type: 'button',
                            class: 'secondary small',
                            'aria-label': `Rotate ${key.name}`,
                            onclick: () => rotateKey(dialog, key, created, replace),
                          },
                          'Rotate',
                        ),
                        h(
                          'button',
                          {
                            type: 'button',
                            class: 'danger small',
                            'aria-label': `Revoke ${key.name}`,
                            onclick: () => confirmRevoke(key),
                          },
                          'Revoke',
                        ),
                      ],
                ),
              );
              return row;
            }),
          ),
        ),
      ),
    );
  };

  const replace = (updated: Key) => {
    keys = keys.map((k) => (k.id === updated.id ? updated : k));
    render();
  };

  const load = () =>
    request<{ data: Key[] }>('GET', '/v1/keys').then(
      (answer) => {
        keys = answer.data;
        render();
      },
      (error: Error) => fill(list, errorBox('Could not load your keys', error.message)),
    );

  const confirmRevoke = (key: Key) => {
    const problem = h('div', { class: 'form-error', role: 'alert' });
    const revoke = h('button', { type: 'button', class: 'danger' }, 'Revoke key');
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    fill(
      dialog,
      h('h2', { id: 'revoke-title' }, `Revoke “${key.name}”?`),
      h(
        'p',
        null,
        'Requests with ',
        h('code', null, key.display),
        ' will fail with 401 at once, on every gateway instance. This cannot be undone.',
      ),
      problem,
      h('div', { class: 'dialog-actions' }, cancel, revoke),
    );
    cancel.addEventListener('click', () => dialog.close());
    revoke.addEventListener('click', () => {
      revoke.disabled = true;
      revoke.textContent = 'Revoking…';
      request<Key>('DELETE', `/v1/keys/${encodeURIComponent(key.id)}`).then(
        (revoked) => {
          dialog.close();
          keys = keys.map((k) => (k.id === revoked.id ? revoked : k));
          render();
        },
        (error: Error) => {
          problem.textContent = error.message;
          revoke.disabled = false;
          revoke.textContent = 'Revoke key';
        },
      );
    });
    dialog.showModal();
    cancel.focus();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    formError.textContent = '';
    if (!name.value.trim()) {
      formError.textContent = 'Give the key a name, such as the app that will use it.';
      name.focus();
      return;
    }
    submit.disabled = true;
    const body: Record<string, string> = { name: name.value.trim(), kind: kind.value };
    if (expires.value) {
      body.expires_at = new Date(`${expires.value}T23:59:59`).toISOString();
    }
    request<CreatedKey>('POST', '/v1/keys', body).then(
      (key) => {
        submit.disabled = false;
        form.reset();
        const raw = h('input', {
          type: 'text',
          readonly: true,
          value: key.key,
          'aria-label': 'Your new API key',
          'data-testid': 'new-key',
          class: 'mono',
        });
        raw.addEventListener('focus', () => raw.select());
        fill(
          created,
          h(
            'div',
            { class: 'new-key', role: 'status' },
            h('strong', null, `Your new ${key.kind} key “${key.name}”`),
            h('p', { class: 'warn-text' }, '⚠ Copy it now and keep it secret: it will not be shown again.'),
            h(
              'div',
              { class: 'copy-row' },
              raw,
              copyButton(() => key.key, 'Copy key'),
            ),
            h(
              'button',
              { type: 'button', class: 'link', onclick: () => fill(created) },
              'I saved it — hide the key',
            ),
          ),
        );
        const { key: _secret, ...view } = key;
        keys = [view, ...keys];
        render();
      },
      (error: Error) => {
        submit.disabled = false;
        formError.textContent = error.message;
      },
    );
  });

  void load();
  return () => dialog.close();
}
