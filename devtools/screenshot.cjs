// Screenshots of a running `scripts/develop` Home Assistant in headless Chromium.
//
//   NODE_PATH=build/screenshot-tools/node_modules node devtools/screenshot.cjs \
//     [--url http://127.0.0.1:8123] [--tokens build/dev-config/.dev-tokens.json] \
//     [--out docs/screenshots] [--entity binary_sensor.demo_living_room_smoke_alarm] \
//     [--wait-on 120]
//
// Logs in with the tokens `devtools.dev_setup configure` saved (put in localStorage as
// `hassTokens`, as the frontend itself does), then saves:
//   integration.png  the Acoustic Guard integration page (hub entry and its satellites)
//   sensors.png      the demo satellite's device page, taken while --entity is "on" when it
//                    turns on within --wait-on seconds (else as it is, with a warning)
//   dashboard.png    the default Overview dashboard (while the alarm is on)
//   history.png      the last three minutes of the demo satellite's sensors, once the
//                    alarm has turned off again
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

function parseArgs(argv) {
  const args = {
    url: "http://127.0.0.1:8123",
    tokens: "build/dev-config/.dev-tokens.json",
    out: "docs/screenshots",
    entity: "binary_sensor.demo_living_room_smoke_alarm",
    waitOn: 120,
    chromium: "/usr/bin/chromium",
  };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in args)) throw new Error(`unknown option ${argv[i]}`);
    args[key] = key === "waitOn" ? Number(argv[i + 1]) : argv[i + 1];
  }
  return args;
}

async function api(args, token, method, route, body) {
  const resp = await fetch(`${args.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${method} ${route}: HTTP ${resp.status} ${text.slice(0, 200)}`);
  return text;
}

async function waitForState(args, token, wanted, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const state = JSON.parse(await api(args, token, "GET", `/api/states/${args.entity}`));
    if (state.state === wanted) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

async function settle(page, text) {
  await page.waitForLoadState("networkidle").catch(() => {});
  // The frontend renders lazily (and slowly on a cold start): wait for the page's content.
  await page.getByText(text).first().waitFor({ timeout: 60000 });
  await page.waitForTimeout(2000);
}

async function main() {
  const args = parseArgs(process.argv);
  const tokens = JSON.parse(fs.readFileSync(args.tokens, "utf8"));
  const token = tokens.access_token;
  fs.mkdirSync(args.out, { recursive: true });
  const deviceId = (
    await api(args, token, "POST", "/api/template", {
      template: `{{ device_id('${args.entity}') }}`,
    })
  ).trim();

  const browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      deviceScaleFactor: 1,
      colorScheme: "light",
    });
    await context.addInitScript((saved) => {
      window.localStorage.setItem("hassTokens", saved);
    }, JSON.stringify(tokens));
    const page = await context.newPage();

    await page.goto(`${args.url}/config/integrations/integration/acoustic_guard`);
    await settle(page, "Demo living room");
    await page.screenshot({ path: path.join(args.out, "integration.png") });
    console.log(`saved ${path.join(args.out, "integration.png")}`);

    const on = await waitForState(args, token, "on", args.waitOn);
    if (!on) console.warn(`warning: ${args.entity} did not turn on within ${args.waitOn} s`);
    await page.goto(`${args.url}/config/devices/device/${deviceId}`);
    await settle(page, "Sound level");
    await page.screenshot({ path: path.join(args.out, "sensors.png") });
    console.log(`saved ${path.join(args.out, "sensors.png")} (${args.entity} ${on ? "on" : "not on"})`);

    await page.goto(`${args.url}/lovelace/0`);
    await settle(page, "Smoke alarm");
    await page.screenshot({ path: path.join(args.out, "dashboard.png") });
    console.log(`saved ${path.join(args.out, "dashboard.png")}`);

    const prefix = args.entity.replace(/_smoke_alarm$/, "");
    const entities = ["smoke_alarm", "carbon_monoxide_alarm", "glass_break", "footsteps"]
      .map((e) => `${prefix}_${e}`)
      .concat([`sensor.${prefix.split(".")[1]}_sound_level`]);
    if (on && !(await waitForState(args, token, "off", 120))) {
      console.warn(`warning: ${args.entity} did not turn off again within 120 s`);
    }
    const start = new Date(Date.now() - 3 * 60 * 1000).toISOString();
    await page.goto(
      `${args.url}/history?entity_id=${entities.join(",")}&start_date=${encodeURIComponent(start)}`,
    );
    await settle(page, "Smoke alarm");
    await page.screenshot({ path: path.join(args.out, "history.png") });
    console.log(`saved ${path.join(args.out, "history.png")}`);
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(`screenshot: ${err.message}`);
  process.exit(1);
});
