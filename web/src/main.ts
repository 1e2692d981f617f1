import './styles.css';
import { currentSession, onSessionChange, request, setSession } from './api.js';
import { fill, h } from './dom.js';
import { accountPage } from './pages/account.js';
import { forgotPage, resetPage, verifyBanner, verifyPage } from './pages/account-mail.js';
import { authPage } from './pages/auth.js';
import { billingPage } from './pages/billing.js';
import { keysPage } from './pages/keys.js';
import { modelsPage } from './pages/models.js';
import { overviewPage } from './pages/overview.js';
import { statusPage } from './pages/status.js';
import { usagePage } from './pages/usage.js';
import { interceptLinks, navigate, onNavigate } from './router.js';

type Page = (root: HTMLElement) => () => void;

interface Route {
  title: string;
  page: Page;
  /** Needs a session; public pages (Models, Status) do not. */
  private: boolean;
  nav?: string;
}

const ROUTES: Record<string, Route> = {
  '/': { title: 'Overview', page: overviewPage, private: true, nav: 'Overview' },
  '/keys': { title: 'API keys', page: keysPage, private: true, nav: 'API keys' },
  '/usage': { title: 'Usage', page: usagePage, private: true, nav: 'Usage' },
  '/billing': { title: 'Billing', page: billingPage, private: true, nav: 'Billing' },
  '/models': { title: 'Models', page: modelsPage, private: false, nav: 'Models' },
  '/status': { title: 'Status', page: statusPage, private: false, nav: 'Status' },
  '/account': { title: 'Account', page: accountPage, private: true, nav: 'Account' },
  // The pages the mails link to, and the forgotten password: with or without a session.
  '/verify': { title: 'Verify your email', page: verifyPage, private: false },
  '/forgot-password': { title: 'Reset your password', page: forgotPage, private: false },
  '/reset-password': { title: 'Choose a new password', page: resetPage, private: false },
};

const header = h('header', { class: 'topbar' });
const main = h('main', { id: 'main', tabindex: '-1' });
const footer = h(
  'footer',
  { class: 'footer muted small' },
  'Conflux Router · ',
  h('a', { href: '/models' }, 'Models'),
  ' · ',
  h('a', { href: '/status' }, 'Status'),
  ' · ',
  h('a', { href: '/docs', 'data-external': true }, 'API reference'),
);
let cleanup: () => void = () => undefined;
let reason: string | undefined;

function renderHeader(path: string): void {
  const session = currentSession();
  const links = Object.entries(ROUTES)
    .filter(([, route]) => route.nav && (session || !route.private))
    .map(([href, route]) =>
      h('a', { href, class: 'navlink', 'aria-current': href === path ? 'page' : null }, route.nav ?? ''),
    );
  const logout = h('button', { type: 'button', class: 'secondary small' }, 'Log out');
  logout.addEventListener('click', () => {
    // The server ends the session (its token is refused from now on); the page forgets it either way.
    void request('POST', '/auth/logout').catch(() => undefined);
    setSession(null);
    reason = 'You are logged out.';
    navigate('/login');
  });
  fill(
    header,
    h('a', { class: 'skip', href: '#main', 'data-external': true }, 'Skip to content'),
    h(
      'a',
      { href: session ? '/' : '/models', class: 'brand', 'aria-label': 'Conflux Router home' },
      h('span', { class: 'logo', 'aria-hidden': 'true' }),
      'Conflux',
    ),
    h('nav', { class: 'nav', 'aria-label': 'Main' }, links),
    h(
      'div',
      { class: 'account' },
      session
        ? [
            h(
              'a',
              { href: '/account', class: 'email muted small', title: 'Account: password, sessions' },
              session.account.email,
            ),
            logout,
          ]
        : [
            h('a', { href: '/login', class: 'navlink' }, 'Log in'),
            h('a', { href: '/signup', class: 'button primary small' }, 'Sign up'),
          ],
    ),
  );
}

function render(): void {
  cleanup();
  cleanup = () => undefined;
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  const session = currentSession();
  fill(main);
  if (path === '/login' || path === '/signup') {
    const next = params.get('next') ?? '/';
    if (session) {
      navigate(next.startsWith('/') && !next.startsWith('//') ? next : '/', true);
      return;
    }
    renderHeader(path);
    document.title = `${path === '/login' ? 'Log in' : 'Sign up'} · Conflux`;
    authPage(
      main,
      path === '/login' ? 'login' : 'signup',
      next.startsWith('/') && !next.startsWith('//') ? next : '/',
      reason,
    );
    reason = undefined;
    return;
  }
  const route = ROUTES[path];
  if (!route) {
    navigate('/', true);
    return;
  }
  if (route.private && !session) {
    navigate(path === '/' ? '/login' : `/login?next=${encodeURIComponent(path)}`, true);
    return;
  }
  renderHeader(path);
  document.title = `${route.title} · Conflux`;
  if (session && route.private && path !== '/account') {
    const banner = verifyBanner(session);
    if (banner) {
      main.append(banner);
    }
  }
  cleanup = route.page(main);
}

onSessionChange(() => {
  // A session that ended (logged out, expired, or refused with 401) leaves the private pages.
  if (!currentSession() && ROUTES[location.pathname]?.private) {
    reason ??= 'Your session ended. Log in again.';
    render();
  }
});

const app = document.getElementById('app') ?? document.body;
fill(app, header, main, footer);
interceptLinks(app);
onNavigate(() => {
  render();
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});
render();
