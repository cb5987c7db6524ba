import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Every file under `dir`, relative (`/`-separated) and sorted; none when `dir` does not exist. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  if (fs.existsSync(dir)) walk(dir, '');
  return out.sort();
}

/**
 * A folder under the OS temp folder (`<area>/<digest>`) holding what `write` puts into the folder it is given,
 * written once per digest: into a fresh folder that is then renamed into place, so that synths running side by
 * side see all of it or none, and the first rename wins.
 */
export function stageOnce(area: string, digest: string, write: (dir: string) => void): string {
  const parent = path.join(os.tmpdir(), area);
  const dir = path.join(parent, digest);
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(parent, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(parent, `${digest}-`));
    write(tmp);
    try {
      fs.renameSync(tmp, dir);
    } catch {
      // Another process staged the same content first.
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  return dir;
}

/** Replaces the folder `dir` with exactly `files` (paths relative to it). */
export function replaceFolder(
  dir: string,
  files: readonly { readonly fileName: string; readonly content: string | Uint8Array }[],
): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f.fileName)), { recursive: true });
    fs.writeFileSync(path.join(dir, f.fileName), f.content);
  }
}
