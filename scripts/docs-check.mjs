// Checks that every relative link in README.md and docs/ resolves: the file exists and, for a
// `#fragment` into a Markdown file, a heading of that slug (GitHub's rule) exists. Exits non-zero
// on any broken link. Run: npm run docs:check.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './dev-identity.mjs';

const markdownFiles = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? markdownFiles(file) : name.endsWith('.md') ? [file] : [];
  });

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

const withoutFences = (text) => text.replace(/^```[\s\S]*?^```/gm, '');
/** The text outside code, where links are links. */
const prose = (text) => withoutFences(text).replace(/`[^`\n]*`/g, '');

const anchors = new Map();
function anchorsOf(file) {
  if (!anchors.has(file)) {
    const headings = withoutFences(readFileSync(file, 'utf8')).match(/^#{1,6} .+$/gm) ?? [];
    anchors.set(file, new Set(headings.map((h) => slug(h.replace(/^#+ /, '')))));
  }
  return anchors.get(file);
}

const broken = [];
const files = [path.join(ROOT, 'README.md'), ...markdownFiles(path.join(ROOT, 'docs'))];
for (const file of files) {
  for (const [, target] of prose(readFileSync(file, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [pathPart, fragment] = target.split('#');
    const resolved = pathPart ? path.resolve(path.dirname(file), decodeURIComponent(pathPart)) : file;
    const where = `${path.relative(ROOT, file)}: ${target}`;
    if (!existsSync(resolved)) broken.push(`${where} (no such file)`);
    else if (fragment && resolved.endsWith('.md') && !anchorsOf(resolved).has(fragment))
      broken.push(`${where} (no heading #${fragment})`);
  }
}

if (broken.length > 0) {
  console.error(`Broken links:\n${broken.join('\n')}`);
  process.exit(1);
}
console.log(`docs:check: every relative link of ${files.length} files resolves.`);
