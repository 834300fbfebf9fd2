/**
 * A patch as a readable diff: each line coloured by what it is (file header, hunk, added,
 * removed, context), numbered, and paged so a large diff does not freeze the page. Text only.
 */
import { h } from './dom.js';

export const DIFF_PAGE_LINES = 400;

function kindOf(line: string): string {
  if (
    line.startsWith('diff --git') ||
    line.startsWith('index ') ||
    line.startsWith('+++ ') ||
    line.startsWith('--- ') ||
    line.startsWith('new file') ||
    line.startsWith('deleted file')
  )
    return 'file';
  if (line.startsWith('@@')) return 'hunk';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  if (line.startsWith('\\')) return 'note';
  return 'ctx';
}

export function diffView(patch: string): HTMLElement {
  const all = patch.split(/\r?\n/);
  if (all.at(-1) === '') all.pop();
  const files = all.filter((l) => l.startsWith('diff --git')).length;
  const added = all.filter((l) => l.startsWith('+') && !l.startsWith('+++ ')).length;
  const removed = all.filter((l) => l.startsWith('-') && !l.startsWith('--- ')).length;
  const box = h('div', { class: 'diff', testid: 'diff' });
  box.appendChild(h('p', { class: 'muted' }, `${files} file(s), +${added} −${removed}, ${all.length} lines`));
  const pre = h('pre', { class: 'output diff-lines' });
  box.appendChild(pre);
  const more = h('button', { class: 'secondary' });
  let shown = 0;
  const page = () => {
    for (const [i, l] of all.slice(shown, shown + DIFF_PAGE_LINES).entries()) {
      pre.appendChild(h('span', { class: `line d-${kindOf(l)}` }, h('span', { class: 'gutter' }, String(shown + i + 1)), l));
    }
    shown = Math.min(all.length, shown + DIFF_PAGE_LINES);
    more.textContent = `Show the next ${Math.min(DIFF_PAGE_LINES, all.length - shown)} lines (${all.length - shown} left)`;
    more.hidden = shown >= all.length;
  };
  more.addEventListener('click', page);
  page();
  box.appendChild(more);
  return box;
}
