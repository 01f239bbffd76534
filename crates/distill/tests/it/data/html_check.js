// Opens an HTML report in Debian's headless Chromium with Playwright, in the light and dark
// colour schemes, and prints what the inspect test asserts as JSON: requests made, widths,
// the page's background, which needles its text holds, and how many colours a screenshot has.
// Usage: node html_check.js PLAYWRIGHT_DIR REPORT.html OUT_DIR WIDTH NEEDLES_JSON
const [dir, report, out, width, needlesJson] = process.argv.slice(2);
const { chromium } = require(`${dir}/node_modules/playwright-core`);
const fs = require('fs');

(async () => {
  const html = fs.readFileSync(report, 'utf8');
  const needles = JSON.parse(needlesJson);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const result = {};
  for (const scheme of ['light', 'dark']) {
    const ctx = await browser.newContext({
      viewport: { width: Number(width), height: 900 }, colorScheme: scheme,
    });
    const page = await ctx.newPage();
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.setContent(html, { waitUntil: 'load' });
    const m = await page.evaluate((needles) => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      background: getComputedStyle(document.body).backgroundColor,
      has: needles.filter((n) => document.body.innerText.includes(n)),
    }), needles);
    const shot = await page.screenshot({ path: `${out}/${scheme}.png` });
    await ctx.close();
    // The screenshot's colours, counted in a page of its own (not the one watched).
    const probe = await browser.newPage();
    m.colours = await probe.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width; c.height = img.height;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set();
      for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      return seen.size;
    }, shot.toString('base64'));
    await probe.close();
    m.requests = requests;
    result[scheme] = m;
  }
  await browser.close();
  process.stdout.write(JSON.stringify(result));
})().catch((e) => { console.error(e); process.exit(1); });
