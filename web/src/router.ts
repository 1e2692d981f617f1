/** History-API navigation between the dashboard's pages (the server answers the same HTML at each path). */
type Listener = () => void;
let listener: Listener = () => undefined;

export function onNavigate(next: Listener): void {
  listener = next;
  window.addEventListener('popstate', () => listener());
}

export function navigate(path: string, replace = false): void {
  if (replace) {
    history.replaceState(null, '', path);
  } else if (path !== location.pathname + location.search) {
    history.pushState(null, '', path);
  }
  listener();
}

/** Same-origin links (`<a href="/keys">`) navigate without a reload; a modified click still opens a tab. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener('click', (event) => {
    const link = (event.target as Element).closest('a');
    if (
      !link ||
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey ||
      link.target ||
      link.hasAttribute('download') ||
      link.dataset.external !== undefined ||
      link.origin !== location.origin
    ) {
      return;
    }
    event.preventDefault();
    navigate(link.pathname + link.search);
  });
}
