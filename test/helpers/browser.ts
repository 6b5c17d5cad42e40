import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's `chromium` package (what `.ci/run` installs); CHROMIUM_PATH points elsewhere. */
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The Chromium binary to drive, or undefined when none is installed. */
export function findChromium(): string | undefined {
  return CANDIDATES.find((path): path is string => !!path && existsSync(path));
}

/**
 * `describe` when Chromium is installed, else `describe.skip` with a warning that says how to install it; the
 * binary's path for `launchChromium`.
 */
export function browserSuite(): { describeWithBrowser: jest.Describe; chromium: string | undefined } {
  const found = findChromium();
  if (!found)
    console.warn(
      `Browser test SKIPPED: no Chromium found (looked at ${CANDIDATES.filter(Boolean).join(', ')}). ` +
        "Install Debian's chromium package (apt-get install -y chromium) to run it.",
    );
  return { describeWithBrowser: found ? describe : describe.skip, chromium: found };
}

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium on a fresh, throwaway profile. */
export async function launchChromium(executablePath: string): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'keysmith-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ARGS,
    timeout: 30_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A loopback port that was free a moment ago (for a server whose own URL must be configured before it starts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
