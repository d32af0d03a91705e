/**
 * Every string a user sees comes from translations.json (or entryTranslations.json, the entry's few): this scans the UI sources (src/ui, src/element) for English
 * put straight into what renders — JSX text, user-visible attributes (aria-label, title, placeholder, alt, label),
 * strings rendered as children, and the space-panel item's label/tooltip — and checks English and German are both
 * complete.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import { parseSync } from "@swc/core";

import entryTranslations from "./entryTranslations.json" with { type: "json" };
import pageTranslations from "./translations.json" with { type: "json" };

const translations = { ...entryTranslations, ...pageTranslations };

const ROOT = path.resolve(import.meta.dirname, "..");
const VISIBLE_ATTRIBUTES = new Set([
    "aria-label",
    "aria-description",
    "title",
    "placeholder",
    "alt",
    "label",
    "actionLabel",
    "tooltip",
]);
const hasWords = (text: string) => /\p{L}{2,}/u.test(text);

type Node = { type?: string; [key: string]: unknown };

/** Literal, user-visible English in one source file, as "line: text". */
export function visibleLiterals(source: string, fileName: string): string[] {
    const ast = parseSync(source, { syntax: "typescript", tsx: fileName.endsWith(".tsx") });
    const found: Array<{ at: number; text: string }> = [];
    const stringOf = (n: Node | undefined): string | undefined => {
        if (n?.type === "StringLiteral") return n.value as string;
        if (n?.type === "TemplateLiteral") return (n.quasis as Array<{ raw: string }>).map((q) => q.raw).join("");
        return undefined;
    };
    const note = (n: Node, text: string | undefined) => {
        if (text !== undefined && hasWords(text))
            found.push({ at: (n.span as { start: number }).start, text: text.trim() });
    };
    const visit = (n: unknown): void => {
        if (Array.isArray(n)) return n.forEach(visit);
        if (!n || typeof n !== "object") return;
        const node = n as Node;
        switch (node.type) {
            case "JSXText":
                note(node, node.value as string);
                break;
            case "JSXAttribute": {
                const name = (node.name as { value?: string }).value ?? "";
                const value = node.value as Node | undefined;
                const literal =
                    value?.type === "JSXExpressionContainer" ? stringOf(value.expression as Node) : stringOf(value);
                if (VISIBLE_ATTRIBUTES.has(name)) note(node, literal);
                // Other attributes (names, ids, keys) are not shown; JSX inside them (e.g. `control={…}`) is.
                if (value?.type === "JSXExpressionContainer" && literal === undefined) visit(value.expression);
                else if (value && literal === undefined) visit(value);
                return;
            }
            case "JSXExpressionContainer":
                note(node, stringOf(node.expression as Node));
                break;
            case "CallExpression": {
                const callee = node.callee as Node;
                const name =
                    callee.type === "MemberExpression"
                        ? (callee.property as { value?: string }).value
                        : (callee as { value?: string }).value;
                if (name === "createElement") {
                    for (const arg of (node.arguments as Array<{ expression: Node }>).slice(2))
                        note(node, stringOf(arg.expression));
                }
                break;
            }
            case "KeyValueProperty": {
                const key = (node.key as { value?: string }).value ?? "";
                if (VISIBLE_ATTRIBUTES.has(key)) note(node.value as Node, stringOf(node.value as Node));
                break;
            }
        }
        for (const value of Object.values(node)) if (value && typeof value === "object") visit(value);
    };
    visit(ast);
    // swc spans count from a global offset: make them relative to this file for line numbers.
    const base = (ast.span as { start: number }).start;
    return found.map(({ at, text }) => `${source.slice(0, Math.max(0, at - base)).split("\n").length}: ${text}`);
}

function sources(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) return sources(full);
        return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts") ? [full] : [];
    });
}

test("the scanner finds English in JSX text, visible attributes, rendered strings and space-panel labels", () => {
    const sample = [
        `const a = <p>Hello there</p>;`,
        `const b = <button aria-label="Close it">{t("x")}</button>;`,
        `const c = <Text>{"Raw words"}</Text>;`,
        `React.createElement("div", null, "Loading stuff");`,
        `api.extras.setSpacePanelItem("k", { label: "Migrate", tooltip: t("y"), onSelected });`,
        `const fine = <p>{t("page|title")} · {count}</p>;`,
    ].join("\n");
    expect(visibleLiterals(sample, "sample.tsx")).toEqual([
        "1: Hello there",
        "2: Close it",
        "3: Raw words",
        "4: Loading stuff",
        "5: Migrate",
    ]);
});

test("no user-visible English literal in the UI sources: every word comes from translations.json", () => {
    const files = [...sources(path.join(ROOT, "ui")), ...sources(path.join(ROOT, "element"))];
    expect(files.length).toBeGreaterThan(10);
    const offenders = files.flatMap((f) =>
        visibleLiterals(readFileSync(f, "utf8"), f).map((hit) => `${path.relative(ROOT, f)}:${hit}`),
    );
    expect(offenders).toEqual([]);
});

test("the entry's strings and the page's are two separate sets (a key in both would depend on load order)", () => {
    expect(Object.keys(entryTranslations).filter((key) => key in pageTranslations)).toEqual([]);
});

test("English and German are complete, and each German string keeps the English one's placeholders", () => {
    const placeholders = (text: string) => [...text.matchAll(/%\((\w+)\)s/g)].map((m) => m[1]).sort();
    const problems = Object.entries(translations as Record<string, Record<string, string>>).flatMap(([key, byLang]) => {
        if (!byLang.en || !byLang.de) return [`${key}: missing ${!byLang.en ? "en" : "de"}`];
        return JSON.stringify(placeholders(byLang.en)) === JSON.stringify(placeholders(byLang.de))
            ? []
            : [`${key}: placeholders differ`];
    });
    expect(problems).toEqual([]);
});
