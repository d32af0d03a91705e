/** module.yaml (what admins read) must describe exactly the options the config schema accepts, with its defaults. */
import { readFileSync } from "node:fs";
import path from "node:path";

import { parse } from "yaml";

import { CONFIG_KEY, moduleConfigSchema } from "../../src/config.ts";
import { PROJECT_ROOT } from "../bed/paths.ts";

const moduleYaml = parse(readFileSync(path.join(PROJECT_ROOT, "module.yaml"), "utf8"));
const packageJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8"));
const readme = readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");

test("module.yaml names the config key and version the code uses", () => {
    expect(moduleYaml.config.key).toBe(CONFIG_KEY);
    expect(moduleYaml.version).toBe(packageJson.version);
    expect(moduleYaml.name).toBe(packageJson.name);
});

test("module.yaml lists every schema option, with the schema's default, and nothing else", () => {
    const defaults = moduleConfigSchema.parse({});
    expect(Object.keys(moduleYaml.config.options).sort()).toEqual(Object.keys(defaults).sort());
    for (const [name, option] of Object.entries(
        moduleYaml.config.options as Record<string, { default: unknown; meaning: string }>,
    )) {
        expect({ name, default: option.default }).toEqual({ name, default: defaults[name as keyof typeof defaults] });
        expect(option.meaning.length).toBeGreaterThan(10);
    }
});

test("the config.json snippet is valid, enables the module and passes the schema", () => {
    const snippet = JSON.parse(`{${moduleYaml.config_json_snippet}}`);
    expect(snippet.modules).toEqual([expect.stringMatching(/index\.js$/)]);
    expect(moduleConfigSchema.safeParse(snippet[CONFIG_KEY]).success).toBe(true);
});

test("the README shows the same snippet", () => {
    expect(readme).toContain(moduleYaml.config_json_snippet.trim());
});
