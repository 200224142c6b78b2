// Markdown → sanitised HTML, once per change of an item's `content` (stored in `html`), so public
// reads never parse or sanitise. marked renders (raw HTML in Markdown passes through it), then
// js-xss keeps only an allow-list of tags and attributes: whatever marked or an author produced,
// the stored HTML has no scripts, event handlers, styles, forms, SVG/MathML, nor URLs other than
// http(s), mailto, tel and relative ones; iframes only point at the video players below.
import { Marked } from 'marked';
import { FilterXSS, safeAttrValue, type IWhiteList } from 'xss';

const markdown = new Marked({ gfm: true, async: false });

/** Embeddable players: privacy-friendly YouTube and Vimeo. Any other iframe loses its `src`. */
const IFRAME_SOURCES = /^https:\/\/(www\.youtube-nocookie\.com\/embed\/|player\.vimeo\.com\/video\/)/;
/** No `data:`, `javascript:`, `vbscript:` … : images and files belong in assets, not in the HTML. */
const SAFE_URL = /^(https?:\/\/|mailto:|tel:|#|\/|\.\.?\/)/i;
/** Syntax highlighting classes on code blocks, nothing that could restyle the host page. */
const CODE_CLASS = /^language-[a-z0-9+#_-]{1,32}$/i;

const text: string[] = [];
const ALLOWED: IWhiteList = {
  a: ['href', 'title'],
  abbr: ['title'],
  b: text, blockquote: text, br: text, del: text, em: text, hr: text, i: text, kbd: text, mark: text,
  p: text, pre: text, s: text, strong: text, sub: text, sup: text, u: text,
  code: ['class'],
  h1: text, h2: text, h3: text, h4: text, h5: text, h6: text,
  ul: text, ol: ['start'], li: text, dl: text, dt: text, dd: text,
  table: text, thead: text, tbody: text, tfoot: text, tr: text, th: ['align'], td: ['align'],
  figure: text, figcaption: text, details: text, summary: text,
  img: ['src', 'alt', 'title', 'width', 'height'],
  iframe: ['src', 'width', 'height', 'title', 'allowfullscreen'],
};

const sanitizer = new FilterXSS({
  whiteList: ALLOWED,
  // Tags off the list vanish (their text stays); these vanish with everything inside them.
  stripIgnoreTag: true,
  stripIgnoreTagBody: ['script', 'style', 'noscript', 'template', 'svg', 'math', 'object', 'embed', 'textarea', 'select'],
  allowCommentTag: false,
  css: false, // no `style` attribute is allowed at all
  safeAttrValue(tag, name, value, cssFilter) {
    // js-xss decodes entities and control characters and refuses `javascript:` first…
    const safe = safeAttrValue(tag, name, value, cssFilter);
    // …then the stricter rules of this API.
    if (name === 'href' || name === 'src') {
      if (tag === 'iframe') return IFRAME_SOURCES.test(safe) ? safe : '';
      return SAFE_URL.test(safe) ? safe : '';
    }
    if (name === 'class') return CODE_CLASS.test(safe) ? safe : '';
    return safe;
  },
});

/** Images and frames whose `src` was refused: left in, they would show as empty boxes. */
const WITHOUT_SOURCE = /<iframe\b(?![^>]*\ssrc="[^"]+")[^>]*>[^<]*<\/iframe>|<img\b(?![^>]*\ssrc="[^"]+")[^>]*>/g;

export function renderMarkdown(source: string): string {
  return sanitizer.process(markdown.parse(source) as string).replace(WITHOUT_SOURCE, '').trim();
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML or XML character data (or a quoted attribute value). */
export const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);

/**
 * Text that a reader may show as text or render as HTML (an RSS `<title>`): with `<` and `>`
 * escaped no tag can start, while `&`, quotes and apostrophes stay as they are for plain-text readers.
 */
export const withoutTags = (value: string) => value.replace(/[<>]/g, (ch) => HTML_ESCAPES[ch]!);
