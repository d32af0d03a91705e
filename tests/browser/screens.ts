/**
 * Evidence of every screen, written by the browser tests for a person to look at: a PNG of the module's page in each
 * of Element's themes (light, dark, and both high-contrast), and its aria snapshot. The folder is git-ignored: the
 * files are rewritten by every run (pixel noise) and compared to nothing, so tracking them only churned the history. Each screen is also scanned with axe-core in every theme; the scan's violations are returned for the test to assert on.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import type { Locator, Page } from "playwright-core";

import { PROJECT_ROOT } from "../bed/paths.ts";

export const SCREENS_DIR = path.join(PROJECT_ROOT, "tests", "browser", "screens");
const AXE_SOURCE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

export interface AxeViolation {
    id: string;
    impact: string | null;
    help: string;
    nodes: string[];
}

/** axe-core on what the module renders (the host stand-in's own chrome is not what is under test). */
export async function axeViolations(page: Page, target: Locator): Promise<AxeViolation[]> {
    if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE_SOURCE });
    return target.evaluate(async (root) => {
        const axe = (
            window as unknown as {
                axe: {
                    run(
                        ctx: Element,
                        opts: object,
                    ): Promise<{
                        violations: Array<{
                            id: string;
                            impact: string | null;
                            help: string;
                            nodes: Array<{ target: string[] }>;
                        }>;
                    }>;
                };
            }
        ).axe;
        const result = await axe.run(root, { resultTypes: ["violations"] });
        return result.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ")),
        }));
    });
}

/** Element's themes: light, dark, and their high-contrast forms (the module must look right in each). */
const THEMES = ["light", "dark", "light-hc", "dark-hc"] as const;

async function setTheme(page: Page, theme: (typeof THEMES)[number]): Promise<void> {
    await page.evaluate((t) => {
        const html = document.documentElement;
        for (const c of [...html.classList]) if (c.startsWith("cpd-theme-")) html.classList.remove(c);
        html.classList.add(`cpd-theme-${t}`);
    }, theme);
}

/** A recovery key as Element shows it: 12 groups of 4 base58 characters, starting "Es". */
const RECOVERY_KEY = /\bEs[1-9A-HJ-NP-Za-km-z]{2}(?: [1-9A-HJ-NP-Za-km-z]{4}){11}\b/g;

/**
 * Writes `<name>-<theme>.png` for each of Element's themes and `<name>.aria.yml` for the module's page (or `target`),
 * and returns axe's violations in every theme. `redact` replaces run-specific values (random user ids) in the aria text.
 */
export async function recordScreen(
    page: Page,
    name: string,
    opts: { target?: Locator; redact?: Record<string, string> } = {},
): Promise<AxeViolation[]> {
    mkdirSync(SCREENS_DIR, { recursive: true });
    const target = opts.target ?? page.getByRole("main");
    // Nothing animating or blinking in the pictures.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    // Tall enough to show the whole screen without scrolling (Element's main area scrolls; a picture cannot).
    const before = page.viewportSize();
    await page.setViewportSize({ width: 900, height: 720 });
    const needed = await target.evaluate((el) => {
        for (let p = el.parentElement; p; p = p.parentElement) p.scrollTop = 0;
        return Math.ceil(el.getBoundingClientRect().top + el.scrollHeight + 48);
    });
    await page.setViewportSize({ width: 900, height: Math.max(720, needed) });
    const violations: AxeViolation[] = [];
    for (const theme of THEMES) {
        await setTheme(page, theme);
        await target.screenshot({
            path: path.join(SCREENS_DIR, `${name}-${theme}.png`),
            animations: "disabled",
            caret: "hide",
            scale: "css",
        });
        violations.push(...(await axeViolations(page, target)).map((v) => ({ ...v, id: `${theme}: ${v.id}` })));
    }
    await setTheme(page, "light");
    if (before) await page.setViewportSize(before);
    let aria = await target.ariaSnapshot();
    for (const [value, placeholder] of Object.entries(opts.redact ?? {})) aria = aria.split(value).join(placeholder);
    // A typed recovery key is a secret (the page shows it only on "Show"): never written to disk.
    aria = aria.replace(RECOVERY_KEY, "«recovery key»");
    writeFileSync(path.join(SCREENS_DIR, `${name}.aria.yml`), `${aria}\n`);
    return violations;
}
