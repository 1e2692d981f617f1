import { ApiError, request, type Credits } from '../api.js';
import { errorBox, fill, h, loading, notice } from '../dom.js';
import { credits as fmtCredits, date, daysUntil } from '../format.js';
import { meter } from './overview.js';

const PLANS = [
  { id: 'free', name: 'Free', price: '$0', included: '500', overage: 'Stops at the limit (402)' },
  { id: 'power', name: 'Power', price: '$24.99/mo', included: '10,000', overage: '$0.003 per extra credit' },
  { id: 'pro', name: 'Pro', price: '$49.99/mo', included: '30,000', overage: '$0.002 per extra credit' },
];
const PACKS = [1000, 5000];

type Availability = 'available' | 'not_configured' | 'missing';

/**
 * Whether Stripe billing is on: an empty checkout request asks without side effects (400 when it is, 503
 * `billing_not_configured` when it is not, 404 on a gateway without the billing routes).
 */
async function billingAvailability(): Promise<Availability> {
  try {
    await request('POST', '/v1/billing/checkout', {});
    return 'available';
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      return 'missing';
    }
    if (error instanceof ApiError && error.status === 503) {
      return 'not_configured';
    }
    return 'available';
  }
}

export function billingPage(root: HTMLElement): () => void {
  const summary = h('div', null, loading('Loading your plan…'));
  const state = h('div', { 'aria-live': 'polite' });
  const plans = h('div', { class: 'plans' });
  const packs = h('div', { class: 'packs' });
  const message = h('div', { 'aria-live': 'assertive' });
  root.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Billing')),
    summary,
    state,
    h('section', { class: 'card' }, h('h2', null, 'Plans'), plans),
    h(
      'section',
      { class: 'card' },
      h('h2', null, 'Credit packs'),
      h('p', { class: 'muted' }, 'One-time top-ups that never expire with the period.'),
      packs,
    ),
    message,
  );

  const go = (button: HTMLButtonElement, path: string, body: unknown) => {
    fill(message);
    button.disabled = true;
    request<{ url: string }>('POST', path, body).then(
      (answer) => location.assign(answer.url),
      (error: Error) => {
        button.disabled = false;
        fill(
          message,
          errorBox(
            error instanceof ApiError && error.status === 503
              ? 'Billing is not configured on this gateway.'
              : 'Stripe could not open the page',
            error.message,
          ),
        );
      },
    );
  };

  const render = (credits: Credits | null, availability: Availability) => {
    const enabled = availability === 'available';
    if (availability === 'not_configured') {
      fill(
        state,
        notice(
          'Billing is not configured on this gateway: plans and credit packs cannot be bought here. Ask the operator to set up Stripe.',
          'warn',
        ),
      );
    } else if (availability === 'missing') {
      fill(
        state,
        notice(
          'Billing is not available on this gateway yet: upgrades and credit packs will appear here once it is.',
          'warn',
        ),
      );
    } else {
      const manage = h('button', { type: 'button', class: 'secondary' }, 'Manage billing');
      manage.addEventListener('click', () => go(manage, '/v1/billing/portal', {}));
      fill(
        state,
        h(
          'div',
          { class: 'card row' },
          h('span', null, 'Invoices, payment method and cancellation are handled by Stripe.'),
          manage,
        ),
      );
    }
    fill(
      plans,
      PLANS.map((plan) => {
        const current = credits?.plan === plan.id;
        const button = h(
          'button',
          {
            type: 'button',
            class: current ? 'secondary' : 'primary',
            disabled: current || !enabled || plan.id === 'free',
          },
          current
            ? 'Current plan'
            : plan.id === 'free'
              ? 'Downgrade in Manage billing'
              : `Upgrade to ${plan.name}`,
        );
        button.addEventListener('click', () => go(button, '/v1/billing/checkout', { plan: plan.id }));
        return h(
          'div',
          { class: `plan ${current ? 'current' : ''}` },
          h('h3', null, plan.name),
          h('div', { class: 'price' }, plan.price),
          h(
            'ul',
            null,
            h('li', null, `${plan.included} credits a month`),
            h('li', null, plan.overage),
            h('li', null, 'All 16 models'),
          ),
          button,
        );
      }),
    );
    fill(
      packs,
      PACKS.map((size) => {
        const button = h(
          'button',
          { type: 'button', class: 'secondary', disabled: !enabled },
          `Buy ${size.toLocaleString('en-US')} credits`,
        );
        button.addEventListener('click', () => go(button, '/v1/billing/checkout', { pack: size }));
        return button;
      }),
    );
  };

  Promise.all([request<Credits>('GET', '/v1/credits'), billingAvailability()]).then(
    ([credits, availability]) => {
      const included = Number(credits.included);
      const used = Number(credits.used);
      fill(
        summary,
        h(
          'section',
          { class: 'card' },
          h(
            'div',
            { class: 'card-head' },
            h('h2', null, h('span', { class: 'cap' }, credits.plan), ' plan'),
            h(
              'span',
              { class: 'muted' },
              `Renews ${date(credits.period.end)} · ${daysUntil(credits.period.end)} days left`,
            ),
          ),
          h(
            'div',
            { class: 'kv' },
            kv('Included', `${fmtCredits(credits.included, 0)} credits`),
            kv('Used', `${fmtCredits(credits.used, 4)} credits`),
            kv('Overage', `${fmtCredits(credits.overage)} credits`),
            kv('Balance', `${fmtCredits(credits.balance, 4)} credits`),
          ),
          meter(included > 0 ? (used / included) * 100 : 0),
          credits.overage_price_usd_per_credit === null
            ? h(
                'p',
                { class: 'muted small' },
                'On the Free plan, requests stop (402) when the credits run out. Upgrade to keep going past them.',
              )
            : h(
                'p',
                { class: 'muted small' },
                `Past the included credits, each credit costs $${credits.overage_price_usd_per_credit}.`,
              ),
        ),
      );
      render(credits, availability);
    },
    (error: Error) => {
      fill(summary, errorBox('Could not load your plan', error.message));
      render(null, 'missing');
    },
  );
  return () => undefined;
}

function kv(label: string, value: string): HTMLElement {
  return h('div', null, h('div', { class: 'stat-label' }, label), h('div', { class: 'kv-value' }, value));
}
