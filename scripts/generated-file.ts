/**
 * What the generators of committed files share (scripts/generate-sdk-*.ts): formatting the text as
 * the repository's Prettier settings format that file, and the command line that writes it or,
 * with `--check`, only says whether the committed one is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import prettier from 'prettier';

/** `source` formatted as the repository's Prettier settings format the file at `path`. */
export async function formatAs(path: string, source: string): Promise<string> {
  const options = await prettier.resolveConfig(path);
  return prettier.format(source, { ...options, filepath: path });
}

/**
 * Writes `render()` to `path`; with `--check`, writes nothing and exits 1 when the file differs
 * from it. `--help` shows how, with `about` (what the file is made from).
 */
export async function writeOrCheck(
  path: string,
  render: () => Promise<string>,
  about: string,
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  const script = relative(process.cwd(), process.argv[1] ?? 'script');
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      `usage: npx tsx ${script} [--check]\n\n${about}\n\n  --check   write nothing; exit 1 when the committed file is stale\n`,
    );
    return;
  }
  const text = await render();
  if (argv.includes('--check')) {
    const stale = readFileSync(path, 'utf8') !== text;
    process.stdout.write(stale ? `${path} is stale\n` : `${path} is current\n`);
    process.exitCode = stale ? 1 : 0;
  } else {
    writeFileSync(path, text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
