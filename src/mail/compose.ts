/**
 * A mail of the product: a heading, a few paragraphs and at most one button, as plain text and as simple HTML
 * (inline styles only: mail clients drop style sheets). Every piece of text is escaped for the HTML part.
 */
export const PRODUCT_NAME = 'Conflux Router';

export interface MailContent {
  subject: string;
  heading: string;
  paragraphs: string[];
  action?: { label: string; url: string };
  /** Small print under the button (why the reader got this mail, what to do if it was not them). */
  footer?: string;
}

export function composeMail(content: MailContent): { subject: string; text: string; html: string } {
  const text = [
    content.heading,
    '',
    ...content.paragraphs.flatMap((p) => [p, '']),
    ...(content.action ? [`${content.action.label}: ${content.action.url}`, ''] : []),
    ...(content.footer ? [content.footer, ''] : []),
    `— ${PRODUCT_NAME}`,
  ].join('\n');
  const paragraph = (p: string) => `<p style="margin:0 0 16px">${escapeHtml(p)}</p>`;
  const button = content.action
    ? `<p style="margin:24px 0"><a href="${escapeHtml(content.action.url)}" style="background:#2f5bea;color:#fff;` +
      `padding:10px 18px;border-radius:6px;text-decoration:none;display:inline-block">` +
      `${escapeHtml(content.action.label)}</a></p>` +
      `<p style="margin:0 0 16px;color:#667;font-size:13px">Or open this link: ` +
      `<a href="${escapeHtml(content.action.url)}">${escapeHtml(content.action.url)}</a></p>`
    : '';
  const html =
    `<!doctype html><html><body style="font-family:system-ui,sans-serif;color:#1b1f2a;max-width:560px;` +
    `margin:0 auto;padding:24px">` +
    `<p style="margin:0 0 24px;font-weight:600">${PRODUCT_NAME}</p>` +
    `<h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(content.heading)}</h1>` +
    content.paragraphs.map(paragraph).join('') +
    button +
    (content.footer
      ? `<p style="margin:24px 0 0;color:#667;font-size:13px">${escapeHtml(content.footer)}</p>`
      : '') +
    `</body></html>`;
  return { subject: `${content.subject} — ${PRODUCT_NAME}`, text, html };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
