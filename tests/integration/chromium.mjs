// chromium: opens a local HTML file in headless Chromium (Debian `chromium`) over the DevTools
// protocol on a pipe (--remote-debugging-pipe: NUL-separated JSON on fds 3 and 4, no network
// port), and reports what a reader's browser would show: console errors, exceptions, network
// requests (a self-contained page makes none beyond itself), values from an expression, and a
// screenshot.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The Chromium binary, or null when none is installed (tools/install_deps.sh --test adds it).
export function findChromium() {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`]).toString().trim() || null;
    } catch { /* not this one */ }
  }
  return null;
}

// Loads `file`, evaluates `expression` (returns its JSON value), saves a PNG to `screenshot`.
// Resolves to { consoleErrors, exceptions, requests, value }.
export async function inspectPage(chromium, file, { expression = 'null', screenshot = null, timeoutMs = 30000 } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'paddock-chromium-'));
  const proc = spawn(chromium, ['--headless=new', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu',
    '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--metrics-recording-only', `--user-data-dir=${profile}`,
    '--window-size=1280,900', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const toBrowser = proc.stdio[3], fromBrowser = proc.stdio[4];
  let nextId = 1, pending = new Map(), listeners = [], buf = Buffer.alloc(0);
  fromBrowser.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (let i; (i = buf.indexOf(0)) >= 0;) {
      const msg = JSON.parse(buf.subarray(0, i).toString());
      buf = buf.subarray(i + 1);
      if (msg.id && pending.has(msg.id)) {
        const { resolve, reject } = pending.get(msg.id);
        pending.delete(msg.id);
        msg.error ? reject(new Error(`${msg.error.message}`)) : resolve(msg.result);
      } else if (msg.method) {
        for (const l of listeners) l(msg);
      }
    }
  });
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const exited = new Promise((r) => proc.on('exit', r));
  try {
    const out = { consoleErrors: [], exceptions: [], requests: [], value: null };
    listeners.push((m) => {
      if (m.method === 'Runtime.consoleAPICalled' && ['error', 'assert'].includes(m.params.type))
        out.consoleErrors.push(m.params.args.map((a) => a.value ?? a.description).join(' '));
      if (m.method === 'Runtime.exceptionThrown') out.exceptions.push(m.params.exceptionDetails.text);
      if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error') out.consoleErrors.push(m.params.entry.text);
      if (m.method === 'Network.requestWillBeSent') out.requests.push(m.params.request.url);
    });
    const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
    for (const d of ['Page', 'Runtime', 'Log', 'Network']) await send(`${d}.enable`, {}, sessionId);
    const loaded = new Promise((r) => listeners.push((m) => { if (m.method === 'Page.loadEventFired') r(); }));
    await send('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
    await loaded;
    await new Promise((r) => setTimeout(r, 200));  // let late console messages arrive
    const ev = await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId);
    out.value = ev.result.value;
    if (screenshot) {
      const shot = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
      writeFileSync(screenshot, Buffer.from(shot.data, 'base64'));
    }
    await send('Browser.close').catch(() => {});
    return out;
  } catch (e) {
    throw new Error(`${e.message}\nchromium stderr:\n${stderr.slice(-2000)}`);
  } finally {
    clearTimeout(timer);
    if (proc.exitCode === null) proc.kill('SIGTERM');
    await exited;
    rmSync(profile, { recursive: true, force: true });
  }
}
