// Markdown → sanitised HTML, once per change of an item's `content` (stored in `html`), so public
// reads never parse or sanitise. markdown-it renders (raw HTML in Markdown passes through it), then
// js-xss keeps only an allow-list of tags and attributes: whatever markdown-it or an author produced,
// the stored HTML has no scripts, event handlers, styles, forms, SVG/MathML, nor URLs other than
// http(s), mailto, tel and relative ones; iframes only point at the video players below.
//
// Rendering runs inside a request, so it must take bounded time for any body the API accepts:
// markdown-it's parser is linear in the input (it is checked against CommonMark's pathological
// inputs; marked's emphasis search was quadratic: 200,000 characters of `_a` took 22 s), its
// nesting is capped, and the two limits below bound the rest. `npm run bench:render` measures the
// worst inputs known at the limits.
import MarkdownIt from 'markdown-it';
import { FilterXSS, safeAttrValue, type IWhiteList } from 'xss';
import { invalid } from '../../lib/problem';

/** The longest `content` accepted, in characters. */
export const MARKDOWN_MAX_CHARS = 25_000;
/** How deep block quotes and lists may sit inside each other. */
export const MARKDOWN_MAX_DEPTH = 8;
export const MARKDOWN_TOO_LONG = `At most ${MARKDOWN_MAX_CHARS} characters of Markdown.`;

const markdown = new MarkdownIt({
  html: true,
  linkify: true,
  // Levels, not containers (a list is two: the list and its item). Beyond this the parser drops
  // the rest of the document, so it sits above what MARKDOWN_MAX_DEPTH lets through, and a
  // document that reaches it is refused by the depth check rather than rendered short.
  maxNesting: 2 * MARKDOWN_MAX_DEPTH + 4,
});
// The sanitiser is the one place that judges URLs: markdown-it's own check would leave a refused
// link as its Markdown source text, `javascript:` and all, instead of a link without an href.
markdown.validateLink = () => true;

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
  b: text,
  blockquote: text,
  br: text,
  del: text,
  em: text,
  hr: text,
  i: text,
  kbd: text,
  mark: text,
  p: text,
  pre: text,
  s: text,
  strong: text,
  sub: text,
  sup: text,
  u: text,
  code: ['class'],
  h1: text,
  h2: text,
  h3: text,
  h4: text,
  h5: text,
  h6: text,
  ul: text,
  ol: ['start'],
  li: text,
  dl: text,
  dt: text,
  dd: text,
  table: text,
  thead: text,
  tbody: text,
  tfoot: text,
  tr: text,
  th: ['align'],
  td: ['align'],
  figure: text,
  figcaption: text,
  details: text,
  summary: text,
  img: ['src', 'alt', 'title', 'width', 'height'],
  iframe: ['src', 'width', 'height', 'title', 'allowfullscreen'],
};

const sanitizer = new FilterXSS({
  whiteList: ALLOWED,
  // Tags off the list vanish (their text stays); these vanish with everything inside them.
  stripIgnoreTag: true,
  stripIgnoreTagBody: [
    'script',
    'style',
    'noscript',
    'template',
    'svg',
    'math',
    'object',
    'embed',
    'textarea',
    'select',
  ],
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

const CONTAINER_OPEN = new Set(['blockquote_open', 'bullet_list_open', 'ordered_list_open']);
const CONTAINER_CLOSE = new Set(['blockquote_close', 'bullet_list_close', 'ordered_list_close']);

/** The deepest block quote or list, counted in block quotes and lists around it and itself. */
function containerDepth(tokens: { type: string }[]): number {
  let depth = 0;
  let deepest = 0;
  for (const { type } of tokens) {
    if (CONTAINER_OPEN.has(type)) deepest = Math.max(deepest, ++depth);
    else if (CONTAINER_CLOSE.has(type)) depth--;
  }
  return deepest;
}

/** Sanitised HTML of `source`; a 400 naming `content` when it nests deeper than the limit. */
export function renderMarkdown(source: string): string {
  if (source.length > MARKDOWN_MAX_CHARS) throw invalid('content', MARKDOWN_TOO_LONG);
  const env = {};
  const tokens = markdown.parse(source, env);
  if (containerDepth(tokens) > MARKDOWN_MAX_DEPTH) {
    throw invalid('content', `Block quotes and lists may be nested at most ${MARKDOWN_MAX_DEPTH} deep.`);
  }
  return sanitizer
    .process(markdown.renderer.render(tokens, markdown.options, env))
    .replace(WITHOUT_SOURCE, '')
    .trim();
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text as HTML or XML character data (or a quoted attribute value). */
export const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);

/**
 * Text that a reader may show as text or render as HTML (an RSS `<title>`): with `<` and `>`
 * escaped no tag can start, while `&`, quotes and apostrophes stay as they are for plain-text readers.
 */
export const withoutTags = (value: string) => value.replace(/[<>]/g, (ch) => HTML_ESCAPES[ch]!);
