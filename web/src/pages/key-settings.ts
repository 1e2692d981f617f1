import { request, type CreatedKey, type Key } from '../api.js';
import { copyButton, field, fill, h } from '../dom.js';
import { date } from '../format.js';

/** "3.25 credits · 120 requests" this billing period. */
export function periodUse(key: Key): string {
  const requests = key.usage.requests === 1 ? '1 request' : `${key.usage.requests} requests`;
  return `${key.usage.credits} credits · ${requests}`;
}

/** The key's limits in one line each: budget (with what is spent), models, requests per minute. */
export function limits(key: Key): HTMLElement {
  const lines = [
    key.credit_limit === null ? 'No credit limit' : `${key.usage.credits} of ${key.credit_limit} credits`,
    key.allowed_models === null ? 'All models' : key.allowed_models.join(', '),
    key.rate_limit_rpm === null ? 'Plan rate limit' : `${key.rate_limit_rpm} requests/min`,
  ];
  return h(
    'div',
    { class: 'limits' },
    lines.map((line) => h('div', null, line)),
  );
}

/** The edit dialog: name, credit limit, allowed models, rate limit (empty = no limit). */
export function editKey(dialog: HTMLDialogElement, key: Key, saved: (key: Key) => void): void {
  const name = h('input', { type: 'text', name: 'name', maxlength: 100, value: key.name });
  const credit = h('input', {
    type: 'text',
    name: 'credit_limit',
    inputmode: 'decimal',
    placeholder: 'no limit',
    value: key.credit_limit ?? '',
  });
  const models = h('input', {
    type: 'text',
    name: 'allowed_models',
    placeholder: 'all models',
    value: key.allowed_models?.join(', ') ?? '',
  });
  const rpm = h('input', {
    type: 'number',
    name: 'rate_limit_rpm',
    min: 1,
    placeholder: 'plan limit',
    value: key.rate_limit_rpm === null ? '' : String(key.rate_limit_rpm),
  });
  const problem = h('div', { class: 'form-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const form = h(
    'form',
    { novalidate: true },
    h('h2', { id: 'key-dialog-title' }, `Settings of “${key.name}”`),
    field('Name', name),
    field('Credit limit per billing period', credit, 'Credits; past it the key gets 402. Empty: no limit.'),
    field('Allowed models', models, 'Model ids, comma-separated (see Models). Empty: every model.'),
    field('Requests per minute', rpm, 'At most your plan’s. Empty: the plan’s limit.'),
    problem,
    h('div', { class: 'dialog-actions' }, cancel, save),
  );
  fill(dialog, form);
  cancel.addEventListener('click', () => dialog.close());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    save.disabled = true;
    const list = models.value
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    request<Key>('PATCH', `/v1/keys/${encodeURIComponent(key.id)}`, {
      name: name.value.trim() || key.name,
      credit_limit: credit.value.trim() === '' ? null : credit.value.trim(),
      allowed_models: list.length === 0 ? null : list,
      rate_limit_rpm: rpm.value === '' ? null : Number(rpm.value),
    }).then(
      (updated) => {
        dialog.close();
        saved(updated);
      },
      (error: Error) => {
        save.disabled = false;
        problem.textContent = error.message;
      },
    );
  });
  dialog.showModal();
  name.focus();
}

/** The rotate dialog: the grace period, then the new raw key shown once in `shown`. */
export function rotateKey(
  dialog: HTMLDialogElement,
  key: Key,
  shown: HTMLElement,
  rotated: (key: Key) => void,
): void {
  const hours = h('input', { type: 'number', name: 'grace_hours', min: 0, max: 168, value: '24' });
  const problem = h('div', { class: 'form-error', role: 'alert' });
  const go = h('button', { type: 'submit', class: 'primary' }, 'Rotate key');
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const form = h(
    'form',
    { novalidate: true },
    h('h2', { id: 'key-dialog-title' }, `Rotate “${key.name}”?`),
    h(
      'p',
      null,
      'You get a new secret with the same settings and budget. The current one keeps working for the grace period, ',
      'so you can deploy the new one without downtime.',
    ),
    field('Grace period (hours)', hours, 'At most 168 (7 days).'),
    problem,
    h('div', { class: 'dialog-actions' }, cancel, go),
  );
  fill(dialog, form);
  cancel.addEventListener('click', () => dialog.close());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go.disabled = true;
    const graceSeconds = Math.round(Number(hours.value || '0') * 3600);
    request<CreatedKey>('POST', `/v1/keys/${encodeURIComponent(key.id)}/rotate`, {
      grace_seconds: graceSeconds,
    }).then(
      (fresh) => {
        dialog.close();
        const raw = h('input', {
          type: 'text',
          readonly: true,
          value: fresh.key,
          'aria-label': 'Your rotated API key',
          'data-testid': 'rotated-key',
          class: 'mono',
        });
        fill(
          shown,
          h(
            'div',
            { class: 'new-key', role: 'status' },
            h('strong', null, `New secret for “${fresh.name}”`),
            h('p', { class: 'warn-text' }, '⚠ Copy it now and keep it secret: it will not be shown again.'),
            h(
              'div',
              { class: 'copy-row' },
              raw,
              copyButton(() => fresh.key, 'Copy key'),
            ),
            h(
              'p',
              { class: 'muted' },
              fresh.previous_key_valid_until
                ? `The old secret works until ${date(fresh.previous_key_valid_until)} ${new Date(fresh.previous_key_valid_until).toLocaleTimeString()}.`
                : 'The old secret has stopped working.',
            ),
            h(
              'button',
              { type: 'button', class: 'link', onclick: () => fill(shown) },
              'I saved it — hide the key',
            ),
          ),
        );
        const { key: _secret, ...view } = fresh;
        rotated(view);
      },
      (error: Error) => {
        go.disabled = false;
        problem.textContent = error.message;
      },
    );
  });
  dialog.showModal();
  hours.focus();
}
