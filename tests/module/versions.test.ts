/**
 * One source of truth for what the module needs: the module API range is the one the built module declares to
 * Element's ModuleLoader (`moduleApiVersion`, src/index.ts), and the Node requirement is `engines` in package.json.
 * module.yaml, the README and every other document must say exactly that, in one phrasing, or nothing.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

import React from "react";
import { parse } from "yaml";

import { PROJECT_ROOT } from "../bed/paths.ts";

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), "utf8");
const DOCUMENTS = [
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "SECURITY.md",
    "module.yaml",
    "docker/README.md",
    ...readdirSync(path.join(PROJECT_ROOT, "docs")).map((f) => `docs/${f}`),
];
/** How the Node requirement is written, everywhere. */
const NODE_REQUIREMENT = "Node.js 22 or later";

async function declaredRange(): Promise<string> {
    // The entry takes React from window, as in Element.
    (globalThis as Record<string, unknown>).window = globalThis;
    (globalThis as Record<string, unknown>).React = React;
    const entry = await import(pathToFileURL(path.join(PROJECT_ROOT, "dist", "module", "index.js")).href);
    return entry.default.moduleApiVersion;
}

test("module.yaml and the README name the module API range the built module declares", async () => {
    const range = await declaredRange();
    expect(range).toBe("^1.9.0 || ^2.0.0");
    expect(parse(read("module.yaml")).module_api).toBe(`@element-hq/element-web-module-api ${range}`);
    expect(read("README.md")).toContain(`\`@element-hq/element-web-module-api\` ${range}`);
});

test("no document states another module API range", async () => {
    const range = await declaredRange();
    const stated = DOCUMENTS.flatMap((file) =>
        [...read(file).matchAll(/\^\d+\.\d+\.\d+(?:\s*\|\|\s*\^\d+\.\d+\.\d+)*/g)].map((m) => ({ file, range: m[0] })),
    );
    expect(stated.filter((s) => s.range !== range)).toEqual([]);
    expect(stated.length).toBeGreaterThan(2);
});

test("the Node requirement is package.json's engines, written one way in every document", () => {
    expect(JSON.parse(read("package.json")).engines).toEqual({ node: ">=22" });
    const stated = DOCUMENTS.flatMap((file) =>
        [...read(file).matchAll(/\bNode(?:\.js)?\s+\d+\S*(?:\s+or\s+(?:later|newer|above))?/g)].map((m) => ({
            file,
            text: m[0],
        })),
    );
    expect(stated.filter((s) => s.text !== NODE_REQUIREMENT)).toEqual([]);
    expect(read("README.md")).toContain(NODE_REQUIREMENT);
    expect(read("docs/cli.md")).toContain(NODE_REQUIREMENT);
});
