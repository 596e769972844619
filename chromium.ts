/** Launch options for Debian's Chromium, shared by Vitest browser mode and Playwright. */
export const chromiumLaunch: { executablePath: string; args: string[] } = {
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
}
