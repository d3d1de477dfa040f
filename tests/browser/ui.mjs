// Drives Sweep's /ui pages in headless Chromium for tests/it/ui.rs:
//   node tests/browser/ui.mjs <base-url> <user> <password> <running batch id> <failed batch id>
// It talks to the test in JSON lines: each step prints {"step": …} on stdout; steps that need
// the test to act (advance the worker, check the REST API) then wait for a line on stdin.
// The last line is {"step":"done"} (exit 0) or {"step":"error","message":…} (exit 1).
// UI_SCREENSHOT_DIR names where the screenshots go; CHROMIUM the browser (/usr/bin/chromium).
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [base, user, password, running, failed] = process.argv.slice(2);
if (!failed) {
  console.error("usage: ui.mjs <base-url> <user> <password> <running batch id> <failed batch id>");
  process.exit(2);
}
const shots = process.env.UI_SCREENSHOT_DIR || ".";
const WAIT = 30_000;

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const emit = (step, fields = {}) => console.log(JSON.stringify({ step, ...fields }));
async function ask(step, fields) {
  emit(step, fields);
  const { value, done } = await lines.next();
  if (done || value.trim() !== "ok") throw new Error(`the test did not confirm step ${step}: ${value}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let code = 0;
try {
  const context = await browser.newContext({
    httpCredentials: { username: user, password },
    viewport: { width: 1280, height: 860 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => m.type() === "error" && problems.push(`${m.text()} (${m.location().url})`));
  const dialogs = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.accept();
  });

  // The list: the running batch's bar is fed by its event stream and advances.
  const response = await page.goto(`${base}/ui`);
  if (response.status() !== 200) throw new Error(`/ui answered ${response.status()}`);
  const row = `#running tr[data-batch="${running}"]`;
  await page.waitForSelector(`${row}[data-events]`);
  // Streamed are the four newest running batches; the failed one, the oldest, is polled.
  const streamed = await page.$$eval("#running tr[data-live=true]", (rows) => rows.length);
  if (streamed < 6) throw new Error(`expected 6 running batches, found ${streamed}`);
  await page.waitForSelector(`#running tr[data-batch="${failed}"][data-events] [data-state=failed]`);
  const bar = () => page.$eval(`${row} progress`, (p) => p.value);
  const first = await bar();
  await ask("list-first", { value: first });
  await page.waitForFunction(
    ([sel, before]) => document.querySelector(sel).value !== before,
    [`${row} progress`, first],
    { timeout: WAIT },
  );
  const second = await bar();
  const listed = await page.$$eval("tr[data-batch]", (rows) => rows.map((r) => r.dataset.batch));
  emit("list-advanced", { first, second, listed });
  await page.screenshot({ path: `${shots}/ui-list.png`, fullPage: true });

  // A failed item with its reason.
  await page.goto(`${base}/ui/batch/${encodeURIComponent(failed)}`);
  const reason = await page.textContent("#failed-items tbody tr td.reason");
  const item = await page.textContent("#failed-items tbody tr td:nth-child(2)");
  await page.waitForSelector("#batch[data-events]");
  // Stalled on its failed job, the batch is still there: its failed items can be retried.
  await page.waitForSelector("button[data-action=retry]:not([disabled])");
  await page.screenshot({ path: `${shots}/ui-batch.png`, fullPage: true });
  emit("failed-item", { item: item.trim(), reason: reason.trim() });

  // Suspend, then resume, each confirmed in a dialog and shown once the page has reloaded.
  await page.goto(`${base}/ui/batch/${encodeURIComponent(running)}`);
  await page.waitForSelector("#batch[data-events]");
  for (const [action, state] of [
    ["suspend", "suspended"],
    ["resume", "running"],
  ]) {
    await Promise.all([page.waitForEvent("load"), page.click(`button[data-action=${action}]`)]);
    await page.waitForSelector(`#batch h1 [data-field=state][data-state=${state}]`);
    const other = action === "suspend" ? "resume" : "suspend";
    await page.waitForSelector(`button[data-action=${other}]:not([hidden])`);
    await ask(state, { dialogs: dialogs.length });
  }
  // Retry the failed batch's failed items, then cancel it: it ends with its item pending.
  await page.goto(`${base}/ui/batch/${encodeURIComponent(failed)}`);
  await page.waitForSelector("#batch[data-events]");
  await Promise.all([page.waitForEvent("load"), page.click("button[data-action=retry]")]);
  await page.waitForSelector("#batch h1 [data-field=state][data-state=running]");
  await page.waitForSelector("#failed-count:text-is('0')");
  await ask("retried", { dialogs: dialogs.length });
  await Promise.all([page.waitForEvent("load"), page.click("button[data-action=cancel]")]);
  await page.waitForSelector("#batch h1 [data-field=state][data-state=deleted]");
  const actions = await page.$$("button[data-action]");
  if (actions.length) throw new Error("an ended batch offers no action");
  await ask("cancelled", { dialogs: dialogs.length });
  if (problems.length) throw new Error(`the page reported errors: ${problems.join("; ")}`);
  emit("done", { dialogs });
} catch (e) {
  emit("error", { message: String(e && e.stack ? e.stack : e) });
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
