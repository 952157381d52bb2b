// Reads the parts of the docs that tests check: runnable shell examples with their shown output, and links.

/** A shell example marked `<!-- runnable -->`, with the output block marked `<!-- output -->` after it. */
export interface DocExample {
  /** 1-based line of the example's opening fence. */
  readonly line: number;
  readonly script: string;
  readonly output?: string;
}

interface Fence {
  readonly line: number;
  readonly marker?: 'runnable' | 'output';
  readonly body: string;
}

/** Fenced blocks with the HTML comment marker on the last non-blank line before them, if any. */
function fences(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const found: Fence[] = [];
  let lastText = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const open = /^(`{3,})/.exec(line);
    if (open === null) {
      if (line.trim() !== '') lastText = line.trim();
      continue;
    }
    const close = open[1] as string;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] ?? '').startsWith(close); i++)
      body.push(lines[i] ?? '');
    const marker = /^<!--\s*(runnable|output)\s*-->$/.exec(lastText)?.[1] as Fence['marker'];
    found.push({ line: start + 1, ...(marker && { marker }), body: body.join('\n') });
    lastText = '';
  }
  return found;
}

export function runnableExamples(markdown: string): DocExample[] {
  const all = fences(markdown);
  const examples: DocExample[] = [];
  all.forEach((fence, i) => {
    if (fence.marker !== 'runnable') return;
    const next = all[i + 1];
    examples.push({
      line: fence.line,
      script: fence.body,
      ...(next?.marker === 'output' && { output: next.body }),
    });
  });
  return examples;
}

/** The shown output as a whole-text pattern: `…` stands for any text on its line. */
export function expectedPattern(shown: string): RegExp {
  const lines = shown
    .trim()
    .split('\n')
    .map((line) =>
      line
        .trim()
        .split('…')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*?'),
    );
  return new RegExp(`^${lines.join('\\s*\\n\\s*')}$`);
}

/** GitHub's anchor for a heading. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

/** Anchors of every heading outside code fences. */
export function anchorsIn(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^```/.test(line)) inFence = !inFence;
    const heading = /^#{1,6} (.+)$/.exec(line);
    if (!inFence && heading) anchors.add(anchorOf(heading[1] as string));
  }
  return anchors;
}

/** Relative link targets `[text](target)` outside code fences. */
export function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^```/.test(line)) inFence = !inFence;
    if (inFence) continue;
    for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1] as string;
      if (!/^[a-z]+:/i.test(target)) links.push(target);
    }
  }
  return links;
}
